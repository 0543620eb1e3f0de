// camkit-site.js: the host's page script, added to every page whatever the
// theme. It keeps three things current without reloading a page (a reload
// would restart the camera or the video):
//
//   - a room page moves to the private show once the model accepts;
//   - a private show page ticks its clock and cost from the host's figures
//     (billing pauses when video stops, so the page never counts by itself),
//     says why billing is paused and when the show ends by itself, and moves
//     to the receipt when the show ends;
//   - the model's dashboard shows private requests as they arrive, with
//     accept and decline buttons.
//
// Pages may listen for `camkit:seat` (detail: the seat as /api/v1/seats/<id>
// returns it) and `camkit:requests` (detail: the pending requests) on document.

const API = '/api/v1';

async function getJSON(path) {
  const r = await fetch(API + path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!r.ok) {
    const e = new Error(`${r.status}`);
    e.status = r.status;
    throw e;
  }
  return r.json();
}

let csrf = null;
async function post(path) {
  if (!csrf) csrf = (await getJSON('/csrf')).token;
  const r = await fetch(API + path, { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error?.message || `${r.status}`);
  return body;
}

function every(ms, fn) {
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      if ((await fn()) === false) { stopped = true; return; }
    } catch (e) {
      if (e.status === 401 || e.status === 403) { stopped = true; return; }
    }
    setTimeout(tick, ms);
  };
  tick();
}

function clock(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}

const path = location.pathname;

// A room: follow a pending private request until the model accepts.
const room = path.match(/^\/shows\/([A-Za-z0-9_-]+)$/);
if (room) {
  every(2000, async () => {
    try {
      const seat = await getJSON('/me/seat');
      if (seat.show_id === room[1] && seat.open) {
        location.assign('/seats/' + seat.id);
        return false;
      }
    } catch (e) {
      if (e.status === 404) return true; // no seat yet
      throw e;
    }
    return true;
  });
}

// seatOfRoom goes to the viewer's open seat in this room's show once it
// opens, asking a few times; false when none opened.
async function seatOfRoom(tries) {
  for (let i = 0; i < tries; i++) {
    try {
      const seat = await getJSON('/me/seat');
      if (seat.show_id === room[1] && seat.open) {
        location.assign('/seats/' + seat.id);
        return true;
      }
    } catch (e) {
      if (e.status !== 404) return false;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

// A room: the model opening, starting or ending a group show changes what
// the page offers (the join button, the video): it reloads on those events.
// A viewer waiting for the group (her page has its leave form) goes to her
// seat instead when it starts: her seat opens just after the start is
// announced, and a reload in between would play the public video the
// show no longer admits her to.
if (room) {
  const chatEl = document.querySelector('[data-camkit-chat]');
  const waiting = () => document.querySelector(`form[action="/shows/${room[1]}/group/leave"]`) !== null;
  if (chatEl) {
    import('/static/camkit-chat.js').then(({ bind }) => {
      bind(chatEl).addEventListener('system', (e) => {
        if (e.detail.kind === 'show_group' && waiting()) {
          seatOfRoom(40).then((gone) => { if (!gone) location.reload(); });
          return;
        }
        if (['group_offered', 'show_group', 'show_public', 'group_cancelled'].includes(e.detail.kind)) location.reload();
      });
    }).catch(() => { /* no chat script: the page stays as rendered */ });
  }
}

// Why a seat is not billing, as billing says (seat.pause_reason), and when
// it ends by itself (seat.ends_at), counted down against this page's clock
// only after the host's answer: the deadline itself is the host's.
const pauseText = {
  model_media: "Billing is paused: the model's video stopped.",
  viewer_connection: 'Billing is paused: the video is not reaching you (connecting, or your connection dropped).',
};

function billingStatus(seat) {
  if (!seat.open) return 'The private show has ended.';
  if (seat.billing) return 'Billing runs while the video reaches you.';
  let text = pauseText[seat.pause_reason] || 'Billing is paused.';
  if (seat.ends_at) {
    const left = Math.max(0, Math.round((Date.parse(seat.ends_at) - Date.now()) / 1000));
    text += ` The show ends by itself in ${clock(left)} unless the video comes back.`;
  }
  return text;
}

// The status line: a theme's own [data-billing-status] element, or one the
// script adds after the running cost, so every theme gets it.
function statusLines() {
  const own = document.querySelectorAll('[data-billing-status]');
  if (own.length) return own;
  const cost = document.querySelector('[data-running-cost]');
  if (!cost) return [];
  const line = document.createElement('p');
  line.setAttribute('data-billing-status', '');
  line.setAttribute('role', 'status');
  line.setAttribute('aria-live', 'polite');
  const host = cost.closest('dl, div, section') || cost.parentElement;
  host.insertAdjacentElement('afterend', line);
  return [line];
}

// A private show: the running figures, then the receipt.
const seatPage = path.match(/^\/seats\/([A-Za-z0-9_-]+)$/);
if (seatPage) {
  every(1000, async () => {
    const seat = await getJSON('/seats/' + seatPage[1]);
    for (const el of document.querySelectorAll('[data-running-seconds]')) {
      el.dataset.runningSeconds = String(seat.billable_seconds);
      el.textContent = clock(seat.billable_seconds);
    }
    for (const el of document.querySelectorAll('[data-running-cost]')) {
      el.dataset.runningCost = String(seat.running_cost.amount);
      el.textContent = seat.running_cost_display;
    }
    document.documentElement.dataset.camkitBilling = seat.billing ? 'running' : 'paused';
    document.documentElement.dataset.camkitPause = seat.pause_reason || '';
    for (const el of statusLines()) {
      el.dataset.pauseReason = seat.pause_reason || '';
      el.textContent = billingStatus(seat);
    }
    document.dispatchEvent(new CustomEvent('camkit:seat', { detail: seat }));
    if (!seat.open) {
      setTimeout(() => location.assign('/receipts/' + seat.id), 1500);
      return false;
    }
    return true;
  });
}

// The model's dashboard: requests as they come, answered without a reload.
if (path === '/dashboard') {
  const box = document.createElement('aside');
  box.setAttribute('data-camkit-requests', '');
  box.setAttribute('aria-live', 'polite');
  box.style.cssText = 'position:fixed;right:1rem;bottom:1rem;z-index:1000;max-width:22rem;display:none;' +
    'background:#111;color:#fff;border-radius:.6rem;padding:.8rem;box-shadow:0 .4rem 1.6rem rgba(0,0,0,.5);font:14px system-ui,sans-serif';
  document.body.appendChild(box);
  const seen = new Set();
  every(2000, async () => {
    const reqs = await getJSON('/me/requests');
    document.dispatchEvent(new CustomEvent('camkit:requests', { detail: reqs }));
    // A request's state (waiting, or held while she is private) is part of
    // what the box shows, so a change of state redraws it.
    const keys = new Set(reqs.map((r) => r.id + '/' + r.state));
    if (reqs.length === seen.size && [...keys].every((k) => seen.has(k))) return true;
    seen.clear();
    keys.forEach((k) => seen.add(k));
    box.replaceChildren();
    box.style.display = reqs.length ? 'block' : 'none';
    for (const r of reqs) {
      const row = document.createElement('div');
      row.setAttribute('data-request', r.id);
      row.style.cssText = 'display:flex;gap:.5rem;align-items:center;justify-content:space-between;margin:.3rem 0';
      const who = document.createElement('span');
      who.textContent = `${r.viewer_name} asks for a private show (${r.rate_display} a minute)`;
      if (r.cam2cam) who.textContent += ' with cam2cam: they would show you their camera';
      if (r.state === 'held') {
        // Kept while she is private with someone else: it waits for her return.
        who.textContent += ' (kept until you are back in public)';
        row.append(who);
        box.appendChild(row);
        continue;
      }
      const accept = document.createElement('button');
      accept.textContent = r.cam2cam ? 'Accept with cam2cam' : 'Accept';
      accept.setAttribute('data-accept', r.id);
      // Accept keeps the other requests (their viewers are told, and told
      // again when she is back); this one declines them.
      const only = document.createElement('button');
      only.textContent = 'Accept, decline the others';
      only.setAttribute('data-accept-only', r.id);
      const decline = document.createElement('button');
      decline.textContent = 'Decline';
      decline.setAttribute('data-decline', r.id);
      // A cam2cam ask is answered on accept: granted by the accept buttons,
      // refused by this one (the rate is then locked without the surcharge).
      const without = document.createElement('button');
      without.textContent = 'Accept without cam2cam';
      without.setAttribute('data-accept-without-cam2cam', r.id);
      const grant = r.cam2cam ? 'cam2cam=grant' : '';
      const act = (what, query) => async () => {
        accept.disabled = only.disabled = decline.disabled = without.disabled = true;
        try {
          await post(`/requests/${r.id}/${what}` + (query ? '?' + query : ''));
          who.textContent = what === 'decline' ? 'Declined.' : `Private show with ${r.viewer_name} started.`;
          // The dashboard shows the viewer's camera once her show has cam2cam.
          if (what === 'accept' && query.includes('cam2cam=grant')) setTimeout(() => location.reload(), 800);
        } catch (e) {
          who.textContent = e.message;
        }
      };
      accept.addEventListener('click', act('accept', grant));
      only.addEventListener('click', act('accept', [grant, 'others=decline'].filter(Boolean).join('&')));
      without.addEventListener('click', act('accept', ''));
      decline.addEventListener('click', act('decline', ''));
      row.append(who, accept);
      if (r.cam2cam) row.append(without);
      if (reqs.length > 1) row.append(only);
      row.append(decline);
      box.appendChild(row);
    }
    return true;
  });
}
