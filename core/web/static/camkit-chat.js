// camkit-chat.js: a show's chat room over WebSocket. An ES module with no
// build step, served by the camkit host at /static/camkit-chat.js. Themes
// include it with <script type="module"> and mark up (see sdk/theme):
//
//   <aside data-camkit-chat data-url="/ws/chat/<show id>">
//     <ol data-chat-log>…server-rendered history…</ol>
//     <form data-chat-form><input name="text"><button>Send</button></form>
//   </aside>
//
// It binds itself to every [data-camkit-chat] element on load; scripts may
// also call bind(el) and use what it returns:
//
//   import { bind } from '/static/camkit-chat.js';
//   const chat = bind(el);
//   chat.send('hello');
//   chat.tip('5.00', 'USD', 'optional message');   // resolves on the server's ack
//   chat.addEventListener('message' | 'tip' | 'system' | 'event' | 'error' | 'state', e => e.detail);
//
// An 'event' frame of kind 'goal' moves the page's tip-goal elements
// ([data-camkit-goal]: its <progress>, [data-goal-text], [data-goal-state]).
//
// A form anywhere with [data-chat-tip] (inputs amount, currency, optional
// text) is sent as a tip over the socket instead of a page POST.
//
// Safety: every piece of text from the server is inserted with textContent;
// nothing is ever parsed as HTML. Money is only displayed: amounts arrive in
// minor units or as the server's decimal string, and the script does no
// arithmetic on them.

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const MAX_LINES = 300; // older lines are removed from the page

function socketURL(raw) {
  const u = new URL(raw, window.location.href);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  return u.toString();
}

// formatMinor renders minor units as a decimal string using the currency's
// exponent, by moving the decimal point in the digits (no floats).
function formatMinor(amount, currency) {
  let exp = 2;
  try {
    exp = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch (_) { /* unknown to this browser: assume 2 */ }
  const neg = amount < 0;
  let digits = String(Math.abs(amount));
  if (exp > 0) {
    digits = digits.padStart(exp + 1, '0');
    digits = digits.slice(0, digits.length - exp) + '.' + digits.slice(digits.length - exp);
  }
  return (neg ? '-' : '') + digits;
}

function shortTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function el(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

function newTipID() {
  if (window.crypto && crypto.randomUUID) return 'tip-' + crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'tip-' + Array.from(b, x => x.toString(16).padStart(2, '0')).join('');
}

class ChatRoom extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    this.url = socketURL(root.getAttribute('data-url') || '');
    this.log = root.querySelector('[data-chat-log]');
    this.form = root.querySelector('[data-chat-form]');
    this.seen = new Set();
    this.pendingTips = new Map(); // tip id -> {resolve, reject}
    this.ws = null;
    this.attempt = 0;
    this.closed = false;
    this.member = null;
    // Lines the server rendered carry no ids; history from the socket
    // replaces them on the first connection so nothing shows twice.
    this.serverRendered = this.log ? Array.from(this.log.children) : [];
    if (this.form) this.form.addEventListener('submit', ev => this.onSubmit(ev));
    this.connect();
  }

  setState(state) {
    this.root.setAttribute('data-chat-state', state);
    this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
  }

  connect() {
    if (this.closed) return;
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => { this.attempt = 0; this.setState('open'); });
    ws.addEventListener('message', ev => this.onFrame(ev.data));
    ws.addEventListener('close', ev => {
      this.ws = null;
      for (const [, p] of this.pendingTips) p.reject(new Error('connection lost; the tip may be retried with the same id'));
      this.pendingTips.clear();
      if (ev.code === 1001 && ev.reason === 'the show ended') this.closed = true;
      if (this.closed) { this.setState('closed'); return; }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    this.setState('reconnecting');
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt++;
    const wait = base / 2 + Math.random() * base / 2; // jitter: a room does not reconnect in lockstep
    setTimeout(() => this.connect(), wait);
  }

  onFrame(data) {
    let f;
    try { f = JSON.parse(data); } catch (_) { return; }
    switch (f.type) {
      case 'hello':
        this.member = f.member || null;
        if (this.serverRendered.length) {
          for (const n of this.serverRendered) n.remove();
          this.serverRendered = [];
        }
        for (const m of f.history || []) this.render(m, m.tip ? formatMinor(m.tip.amount, m.tip.currency) : '');
        break;
      case 'message':
      case 'tip':
      case 'system':
        if (f.message) this.render(f.message, f.tip_display || '');
        this.dispatchEvent(new CustomEvent(f.type, { detail: f }));
        break;
      case 'event':
        if (f.kind === 'goal' && f.data) updateGoals(f.data);
        this.dispatchEvent(new CustomEvent('event', { detail: f }));
        break;
      case 'ack': {
        const p = this.pendingTips.get(f.ref);
        if (p) { this.pendingTips.delete(f.ref); p.resolve(f.ref); }
        break;
      }
      case 'error': {
        const p = f.ref && this.pendingTips.get(f.ref);
        if (p) { this.pendingTips.delete(f.ref); p.reject(Object.assign(new Error(f.error), { code: f.code })); }
        this.renderNotice(f.error || 'Something went wrong.', 'msg-error');
        this.dispatchEvent(new CustomEvent('error', { detail: f }));
        break;
      }
    }
  }

  render(m, tipDisplay) {
    if (!this.log || !m || !m.id || this.seen.has(m.id)) return;
    this.seen.add(m.id);
    let li;
    if (m.system) {
      li = el('li', 'msg msg-system');
      li.appendChild(el('span', '', m.text));
    } else {
      li = el('li', m.tip ? 'msg msg-tip' : 'msg');
      const t = el('time', '', shortTime(m.at));
      t.setAttribute('datetime', m.at || '');
      li.appendChild(t);
      li.appendChild(el('span', 'author role-' + String(m.role || '').replace(/[^a-z]/g, ''), m.author));
      if (m.tip) {
        li.appendChild(el('span', 'tip-amount', 'tipped ' + tipDisplay + ' ' + m.tip.currency));
        if (m.text) li.appendChild(el('span', 'text', m.text));
      } else {
        li.appendChild(el('span', 'text', m.text));
      }
    }
    li.dataset.id = m.id;
    this.append(li);
  }

  renderNotice(text, cls) {
    if (!this.log) return;
    const li = el('li', 'msg msg-system ' + cls);
    li.appendChild(el('span', '', text));
    this.append(li);
  }

  append(li) {
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.log.appendChild(li);
    while (this.log.children.length > MAX_LINES) this.log.firstElementChild.remove();
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  onSubmit(ev) {
    ev.preventDefault();
    const input = this.form.querySelector('[name="text"]');
    if (!input) return;
    const text = input.value.trim();
    if (!text) return;
    if (this.send(text)) input.value = '';
  }

  // send posts a chat message; false when the socket is not open.
  send(text) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      this.renderNotice('Not connected yet: try again in a moment.', 'msg-error');
      return false;
    }
    this.ws.send(JSON.stringify({ type: 'message', text: String(text) }));
    return true;
  }

  // tip sends a tip (amount as a decimal string in major units). The tip id
  // makes it idempotent: pass the same id to retry after a lost connection.
  tip(amount, currency, text = '', tipID = newTipID()) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      this.pendingTips.set(tipID, { resolve, reject });
      this.ws.send(JSON.stringify({ type: 'tip', tip_id: tipID, amount: String(amount), currency: String(currency), text: String(text) }));
    });
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close(1000, 'bye');
  }
}

// updateGoals moves every tip-goal element of the page ([data-camkit-goal],
// see sdk/theme GoalAttr) to the goal's state from the server: the bar's
// value is a whole percentage and the figures are the server's own text.
function updateGoals(g) {
  for (const root of document.querySelectorAll('[data-camkit-goal]')) {
    const bar = root.querySelector('progress');
    if (bar) {
      const pct = Math.max(0, Math.min(100, Number(g.percent) || 0));
      bar.value = pct;
      bar.textContent = pct + '%';
    }
    for (const n of root.querySelectorAll('[data-goal-text]')) n.textContent = String(g.display || '');
    for (const n of root.querySelectorAll('[data-goal-state]')) n.textContent = g.done ? 'Reached!' : '';
    root.setAttribute('data-goal-percent', String(Number(g.percent) || 0));
  }
}

const bound = new WeakMap();

export function bind(root) {
  if (!bound.has(root)) bound.set(root, new ChatRoom(root));
  return bound.get(root);
}

function bindTipForms(room) {
  for (const form of document.querySelectorAll('form[data-chat-tip]')) {
    if (form.dataset.chatTipBound) continue;
    form.dataset.chatTipBound = '1';
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      const data = new FormData(form);
      const button = form.querySelector('button');
      if (button) button.disabled = true;
      room.tip(data.get('amount') || '', data.get('currency') || '', data.get('text') || '')
        .catch(() => { /* the error frame is already shown in the log */ })
        .finally(() => { if (button) button.disabled = false; });
    });
  }
}

function init() {
  const roots = document.querySelectorAll('[data-camkit-chat]');
  for (const root of roots) bind(root);
  if (roots.length) bindTipForms(bind(roots[0]));
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', init);
} else {
  init();
}
