// camkit-player.js: publish a camera over WHIP and play a show over WHEP.
// An ES module with no build step, served by the camkit host at
// /static/camkit-player.js. Themes include it and listen to its events; they
// never touch WebRTC themselves.
//
//   import { publish, play } from '/static/camkit-player.js';
//   const cam = publish(videoEl, { whipUrl: '/whip', streamKey });
//   // replace: true takes the show from a publisher on air (OBS): only on
//   // the model's explicit "go live with this browser".
//   const cam2 = publish(videoEl, { whipUrl: '/whip', streamKey, replace: true });
//   const show = play(videoEl, { whepUrl: '/whep/' + showId, token: seatToken });
//   show.addEventListener('live', ...);    // media is flowing
//   show.addEventListener('paused', ...);  // the model's media stopped (may resume)
//   show.addEventListener('ended', e => e.detail.reason); // over: seat ended, show went private, ...
//   show.addEventListener('error', e => e.detail.message); // a failure; it retries unless final
//   await show.stats();  show.stop();
//
// Signalling is non-trickle: the offer is sent once ICE gathering completes,
// which is what the camkit SFU (it answers with all its candidates) expects.
//
// A session URL (the Location of the 201) is a capability: it stays in this
// object, is never put in a page, a log or a query string, and the DELETE on
// it carries the session's bearer (the stream key, the seat token, or for a
// free viewer the token the host minted in Camkit-Session-Token). The show's
// event feed is followed with the session's public watch id
// (Camkit-Watch-Id), which opens nothing.

const GATHER_TIMEOUT_MS = 2000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
// Reasons the server gives for ending a session that must not be retried.
const FINAL_REASONS = new Set(['closed', 'seat_ended', 'show_private', 'show_ended', 'replaced']);

class StreamSession extends EventTarget {
  constructor(videoEl, opts, role) {
    super();
    this.videoEl = videoEl;
    this.opts = opts;
    this.role = role; // 'publish' | 'play'
    this.pc = null;
    this.location = null; // the session URL: a secret
    this.sessionBearer = null; // what PATCH/DELETE on it need
    this.watchId = null; // public handle for this session's own events
    this.events = null;
    this.stopped = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.disconnectTimer = null;
    this.localStream = null;
    this.ownsStream = false;
    this.state = 'idle';
    // Whether the model's media flows, as the show's event feed says; true
    // until told otherwise so a page without the feed still goes live.
    this.modelLive = true;
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state, detail = {}) {
    if (this.state === state) return;
    this.state = state;
    this.emit(state, detail);
  }

  get url() {
    return this.role === 'publish' ? this.opts.whipUrl : this.opts.whepUrl;
  }

  get bearer() {
    return this.role === 'publish' ? this.opts.streamKey : this.opts.token;
  }

  async start() {
    try {
      if (this.role === 'publish' && !this.localStream) {
        try {
          this.localStream = this.opts.mediaStream || await navigator.mediaDevices.getUserMedia(
            this.opts.constraints || { video: true, audio: true });
        } catch (err) {
          // No camera or permission denied: retrying will not help.
          throw final('camera unavailable: ' + (err.message || err.name), 0);
        }
        this.ownsStream = !this.opts.mediaStream;
        this.videoEl.srcObject = this.localStream;
        this.videoEl.muted = true;
        this.videoEl.play().catch(() => {});
      }
      await this.connect();
    } catch (err) {
      this.fail(err);
    }
  }

  async connect() {
    if (this.stopped) return;
    const pc = new RTCPeerConnection({ iceServers: this.opts.iceServers || [], bundlePolicy: 'max-bundle' });
    this.pc = pc;
    if (this.role === 'publish') {
      for (const track of this.localStream.getTracks()) {
        pc.addTransceiver(track, { direction: 'sendonly', streams: [this.localStream] });
      }
    } else {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      const remote = new MediaStream();
      pc.ontrack = (e) => {
        remote.addTrack(e.track);
        if (this.videoEl.srcObject !== remote) this.videoEl.srcObject = remote;
        this.videoEl.play().catch(() => {});
      };
    }
    pc.onconnectionstatechange = () => this.onConnectionState(pc);

    await pc.setLocalDescription(await pc.createOffer());
    await waitGathering(pc);
    const headers = { 'Content-Type': 'application/sdp' };
    if (this.bearer) headers.Authorization = 'Bearer ' + this.bearer;
    // The model's explicit switch of device: without it the host refuses a
    // publish while another publisher (OBS) is on air, with a 409.
    if (this.role === 'publish' && this.opts.replace) headers['Camkit-Replace-Publisher'] = '1';
    let resp;
    try {
      resp = await fetch(this.url, { method: 'POST', headers, body: pc.localDescription.sdp });
    } catch (err) {
      throw retryable(err.message || 'network error');
    }
    const body = await resp.text();
    if (resp.status !== 201) {
      // 4xx: the server said no (bad key, no seat, show private...): final.
      // 429 (too many streams from here, or the show is full) and 5xx: try
      // again, not before Retry-After.
      const msg = `${resp.status}: ${body.trim()}`;
      if (resp.status === 429 || resp.status >= 500) {
        const e = retryable(msg);
        e.status = resp.status;
        e.retryAfterMs = (parseInt(resp.headers.get('Retry-After'), 10) || 0) * 1000;
        throw e;
      }
      throw final(msg, resp.status);
    }
    this.location = new URL(resp.headers.get('Location'), new URL(this.url, location.href)).toString();
    this.sessionBearer = this.bearer || resp.headers.get('Camkit-Session-Token');
    this.watchId = resp.headers.get('Camkit-Watch-Id');
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    if (this.role === 'play') this.listen();
  }

  onConnectionState(pc) {
    if (pc !== this.pc || this.stopped) return;
    switch (pc.connectionState) {
      case 'connected':
        clearTimeout(this.disconnectTimer);
        this.attempt = 0;
        // A viewer connected to a show whose model is away is paused, not live.
        this.setState(this.modelLive ? 'live' : 'paused', this.modelLive ? {} : { reason: 'model' });
        break;
      case 'disconnected':
        // ICE may recover by itself; give it a moment before reconnecting.
        clearTimeout(this.disconnectTimer);
        this.disconnectTimer = setTimeout(() => this.reconnect('connection lost'), 3000);
        this.setState('paused', { reason: 'disconnected' });
        break;
      case 'failed':
        this.reconnect('connection failed');
        break;
    }
  }

  // listen follows the show's events so the page learns why media stopped.
  listen() {
    if (this.events) this.events.close();
    const eventsUrl = this.opts.eventsUrl || this.url.replace(/\/whep\//, '/stream/events/').replace(/\?.*$/, '');
    const es = new EventSource(this.watchId ? eventsUrl + '?watch=' + encodeURIComponent(this.watchId) : eventsUrl);
    this.events = es;
    es.addEventListener('live', () => {
      this.modelLive = true;
      if (this.pc && this.pc.connectionState === 'connected') this.setState('live');
    });
    es.addEventListener('paused', () => {
      this.modelLive = false;
      this.setState('paused', { reason: 'model' });
    });
    es.addEventListener('mode', (e) => this.emit('mode', JSON.parse(e.data)));
    es.addEventListener('ended', (e) => {
      const ev = JSON.parse(e.data);
      if (FINAL_REASONS.has(ev.reason)) this.end(ev.reason, false);
    });
  }

  reconnect(why, notBeforeMs = 0) {
    if (this.stopped) return;
    this.teardown(true);
    this.setState('paused', { reason: why });
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    const delay = Math.max(backoff, notBeforeMs);
    this.attempt++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect().catch((err) => this.fail(err)), delay);
  }

  fail(err) {
    this.emit('error', { message: err.message || String(err), status: err.status, final: !!err.final });
    if (err.final) this.end('refused', false);
    else this.reconnect(err.message, err.retryAfterMs || 0);
  }

  // teardown closes the connection; deleteSession tells the server too.
  teardown(deleteSession) {
    clearTimeout(this.disconnectTimer);
    // The old session's feed goes first: its 'ended' (reason 'closed', our
    // own DELETE) must not end the session that replaces it.
    if (this.events) {
      this.events.close();
      this.events = null;
    }
    const pc = this.pc;
    this.pc = null;
    if (pc) pc.onconnectionstatechange = null;
    if (deleteSession && this.location) {
      const headers = this.sessionBearer ? { Authorization: 'Bearer ' + this.sessionBearer } : {};
      // The DELETE goes before the connection closes: a closed connection
      // also ends the session on the server, and a DELETE arriving after
      // that would find nothing. keepalive: it outlives a closing page.
      const closePC = () => { if (pc) pc.close(); };
      const timer = setTimeout(closePC, 1000);
      fetch(this.location, { method: 'DELETE', headers, keepalive: true })
        .catch(() => {})
        .finally(() => { clearTimeout(timer); closePC(); });
    } else if (pc) {
      pc.close();
    }
    this.location = null;
    this.sessionBearer = null;
    this.watchId = null;
  }

  end(reason, deleteSession) {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.teardown(deleteSession);
    if (this.ownsStream && this.localStream) this.localStream.getTracks().forEach((t) => t.stop());
    this.state = 'ended';
    this.emit('ended', { reason });
  }

  stop() {
    this.end('stopped', true);
  }

  // stats summarises getStats() for a status line or a test.
  async stats() {
    const out = { state: this.state, framesDecoded: 0, framesEncoded: 0, bytesReceived: 0, bytesSent: 0,
      packetsLost: 0, framesPerSecond: 0, roundTripTime: null };
    if (!this.pc) return out;
    const report = await this.pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.bytesReceived += s.bytesReceived || 0;
        out.packetsLost += s.packetsLost || 0;
        if (s.kind === 'video') {
          out.framesDecoded += s.framesDecoded || 0;
          out.framesPerSecond = s.framesPerSecond || out.framesPerSecond;
        }
      } else if (s.type === 'outbound-rtp') {
        out.bytesSent += s.bytesSent || 0;
        if (s.kind === 'video') {
          out.framesEncoded += s.framesEncoded || 0;
          out.framesPerSecond = s.framesPerSecond || out.framesPerSecond;
        }
      } else if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) {
        out.roundTripTime = s.currentRoundTripTime;
      }
    });
    return out;
  }
}

function waitGathering(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== 'complete') return;
      pc.removeEventListener('icegatheringstatechange', done);
      clearTimeout(timer);
      resolve();
    };
    // Answer with what is gathered if a STUN server is slow.
    const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', done);
  });
}

function retryable(message) {
  const e = new Error(message);
  e.final = false;
  return e;
}

function final(message, status) {
  const e = new Error(message);
  e.final = true;
  e.status = status;
  return e;
}

// publish sends the camera (or opts.mediaStream) to opts.whipUrl with
// opts.streamKey as bearer. Returns the session: an EventTarget.
export function publish(videoEl, opts) {
  const s = new StreamSession(videoEl, opts, 'publish');
  s.start();
  return s;
}

// play shows opts.whepUrl in videoEl, with opts.token (a seat token) as
// bearer when given. Returns the session: an EventTarget.
export function play(videoEl, opts) {
  const s = new StreamSession(videoEl, opts, 'play');
  s.start();
  return s;
}
