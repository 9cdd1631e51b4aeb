// One viewing session: the signaling transport, the peer connection to a renderer, and the state the page
// shows. No DOM here; app.js renders what this reports.

import { HttpSignaling, WebSocketSignaling } from './signaling.js';
import { Peer } from './peer.js';

/** No answer this long after the first offer: no renderer took the viewer. */
export const NO_ANSWER_MS = 10000;
/** Answered, but no media path this long afterwards: ICE could not find a route. */
export const ICE_TIMEOUT_MS = 15000;
/**
 * Private mode, polite side (the renderer was there first and is the offerer): wait this long for its offer,
 * which it resends every 5 s, before offering ourselves. Offering at once would collide with it.
 */
export const PRIVATE_OFFER_WAIT_MS = 6000;
/** Reconnect delays after the signaling server is lost: 1 s doubling to 10 s. */
export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 10000;

/**
 * States, in the order a session usually passes through them:
 *   connecting      loading /config and opening the signaling transport
 *   waiting         offer sent, waiting for a renderer to answer and the media path to open
 *   no-renderer     no answer within NO_ANSWER_MS (offers keep being resent; an answer still connects)
 *   connected       media path up and the last offer answered
 *   reconnecting    the media path dropped, or signaling came back and the session is being renegotiated
 *   signaling-lost  the signaling server went away; reconnecting with back-off
 *   ice-failed      the renderer answered but no media path could be found
 *   ended           the renderer, the supervisor or the user ended the session
 *   error           refused by the server (e.g. a private session id already has a viewer)
 */
export class Session {
  constructor({ origin, connectionId, privateMode = false, fetchConfig, log = () => {} }) {
    this.origin = origin;
    this.connectionId = connectionId;
    this.privateMode = privateMode;
    this.fetchConfig = fetchConfig;
    this.log = log;
    this.state = 'idle';
    this.detail = '';
    this.signaling = null;
    this.signalingUp = false;   // open and usable
    this.lostOnce = false;      // the server has been unreachable at least once
    this.peer = null;
    this.polite = null;
    this.backoffMs = BACKOFF_MIN_MS;
    this.everConnected = false;
    this.resyncing = false;     // renegotiating after the signaling server came back
    this.noAnswer = false;
    this.iceTimedOut = false;
    this.ended = false;
    this.disconnectEcho = false;
    this.endReason = '';
    this.refused = '';
    this.timers = new Set();
    this.negotiations = 0;      // answers applied, for tests and diagnostics
    this.onstate = () => {};
    this.ontrack = () => {};
    this.onchannelmessage = () => {};
    this.onchannelstate = () => {};
    this.onconfig = () => {};
    this.onrole = () => {};
  }

  get pc() { return this.peer?.pc ?? null; }

  async start() {
    this.update();
    await this.openSignaling();
  }

  later(fn, ms) {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
    return t;
  }

  cancel(t) {
    if (t) { clearTimeout(t); this.timers.delete(t); }
  }

  async openSignaling() {
    if (this.ended) return;
    let sig;
    try {
      const config = await this.fetchConfig();
      this.config = config;
      this.onconfig(config);
      if (this.peer && Array.isArray(config.iceServers)) {
        // TURN credentials are minted per request and expire: give the connection the fresh ones.
        this.peer.iceServers = config.iceServers;
        this.peer.pc.setConfiguration({ ...this.peer.pc.getConfiguration(), iceServers: config.iceServers });
      }
      sig = config.useWebSocket
        ? new WebSocketSignaling(this.origin.replace(/^http/, 'ws') + '/')
        : new HttpSignaling(this.origin);
      sig.onmessage = (m) => { if (this.signaling === sig) this.onSignal(m); };
      sig.onlost = () => this.onSignalingLost(sig);
      this.signaling = sig;
      await sig.start();
      if (this.ended || this.signaling !== sig) { sig.stop(); return; }
      this.log(`signaling open (${sig.kind})`);
      this.backoffMs = BACKOFF_MIN_MS;
      this.signalingUp = true;
      if (this.peer) this.resyncing = true;  // until the renegotiation after the ack is answered
      this.update();
      await sig.connect(this.connectionId);
    } catch (e) {
      this.log(`signaling failed: ${e.message}`);
      if (sig && this.signaling === sig) this.onSignalingLost(sig);
      else if (!sig) this.onSignalingLost(null);
    }
  }

  onSignalingLost(sig) {
    if (this.ended || (sig && this.signaling !== sig)) return;
    sig?.stop();
    this.signaling = null;
    this.signalingUp = false;
    this.lostOnce = true;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.log(`signaling lost; retrying in ${delay} ms`);
    this.update();
    this.cancel(this.reconnectTimer);
    this.reconnectTimer = this.later(() => this.openSignaling(), delay);
  }

  onSignal(m) {
    if (m.type === 'error') {
      if (m.code === 'no_free_streamer') {
        // sparc-signal's streamer registry refused us: nobody will answer, so say so now and ask again later.
        this.noAnswer = true;
        this.update();
        this.cancel(this.registryRetry);
        this.registryRetry = this.later(() => this.signaling?.connect(this.connectionId), NO_ANSWER_MS);
      } else if (!this.peer) {
        this.refused = m.message || 'The server refused the connection.';
        this.update();
      }
      this.log(`server error: ${m.message}`);
      return;
    }
    if (m.connectionId !== this.connectionId) return;  // public mode relays other viewers' traffic too
    switch (m.type) {
      case 'connect': this.onConnectAck(m); break;
      case 'offer': this.peer?.handleDescription({ type: 'offer', sdp: m.sdp }); break;
      case 'answer': this.peer?.handleDescription({ type: 'answer', sdp: m.sdp }); break;
      case 'candidate': this.peer?.handleCandidate(m); break;
      case 'disconnect':
        if (this.disconnectEcho) this.disconnectEcho = false;  // the server echoing our own restart
        else if (this.peer) this.end('The renderer closed the session.');
        break;
      default: break;
    }
  }

  onConnectAck(m) {
    this.polite = m.polite !== false;
    this.refused = '';
    this.noAnswer = false;
    this.onrole(this.polite);
    if (!this.peer) {
      this.createPeer();
      this.update();
      return;
    }
    // Back after losing the signaling server: the media may still flow, but the server has forgotten us and
    // the renderer may have too. Offer again on the same connection; the renderer answers on its peer.
    this.peer.polite = this.polite;
    this.resyncing = true;
    this.update();
    this.peer.renegotiate();
  }

  createPeer() {
    const up = () => (this.signalingUp ? this.signaling : null);
    const send = {
      offer: (sdp) => up()?.offer(this.connectionId, sdp),
      answer: (sdp) => up()?.answer(this.connectionId, sdp),
      candidate: (c) => up()?.candidate(this.connectionId, c),
    };
    const peer = new Peer({ polite: this.polite, iceServers: this.config?.iceServers ?? [], send, log: this.log });
    this.peer = peer;
    peer.onoffersent = (resend) => {
      if (!resend) {
        this.cancel(this.noAnswerTimer);
        this.noAnswerTimer = this.later(() => { this.noAnswer = true; this.update(); }, NO_ANSWER_MS);
      }
    };
    const heard = () => {
      this.cancel(this.noAnswerTimer);
      this.cancel(this.offerWait);
      this.noAnswer = false;
      if (!this.everConnected) this.armIceTimer();
      this.update();
    };
    peer.onremoteoffer = () => {
      this.resyncing = false;  // the renderer knows this connection
      heard();
    };
    peer.onanswered = () => {
      this.negotiations += 1;
      this.resyncing = false;
      heard();
    };
    peer.onerror = (e) => {
      if (this.resyncing) {
        // The renderer no longer knows this connection (it answered from a fresh peer): start over.
        this.log(`renegotiation failed (${e.message}); starting a new connection`);
        this.restartPeer();
      }
    };
    peer.onbroken = (e) => {
      this.log(`${e.message}; starting a new connection`);
      this.restartPeer();
    };
    peer.ontrack = (event) => this.ontrack(event);
    peer.onchannelmessage = (obj) => this.onchannelmessage(obj);
    peer.onchannelstate = (open) => this.onchannelstate(open);
    peer.onconnectionstate = (state) => {
      if (state === 'connected') {
        this.everConnected = true;
        this.iceTimedOut = false;
        this.cancel(this.iceTimer);
      }
      this.update();
    };
    if (this.privateMode && this.polite) this.offerWait = this.later(() => peer.start(), PRIVATE_OFFER_WAIT_MS);
    else peer.start();
  }

  armIceTimer() {
    this.cancel(this.iceTimer);
    this.iceTimer = this.later(() => {
      if (this.pc?.connectionState !== 'connected') { this.iceTimedOut = true; this.update(); }
    }, ICE_TIMEOUT_MS);
  }

  /** A fresh RTCPeerConnection (public mode: under a new connection id, since the old one is spent). */
  restartPeer() {
    const old = this.connectionId;
    this.peer?.close();
    this.peer = null;
    this.resyncing = false;
    this.everConnected = false;
    if (this.signalingUp) {
      this.signaling.disconnect(old);
      this.disconnectEcho = this.privateMode;  // the server sends it back to us too; same id in private mode
    }
    if (!this.privateMode) this.connectionId = crypto.randomUUID();
    this.onrole(null);
    this.update();
    if (this.signalingUp) this.signaling.connect(this.connectionId);
  }

  send(obj) {
    return this.peer?.sendMessage(obj) ?? false;
  }

  /** End for good: tell the server, close the peer, stop every timer. */
  end(reason = 'The session has ended.') {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const sig = this.signaling;
    this.signaling = null;
    this.signalingUp = false;
    if (sig) {
      sig.disconnect(this.connectionId);
      sig.stop();  // a WebSocket sends queued frames before its close frame; HTTP deletes the whole session
    }
    this.peer?.close();
    this.update();
  }

  /** The state follows from the facts; every event recomputes it. */
  computeState() {
    if (this.ended) return ['ended', this.endReason];
    if (this.refused) return ['error', this.refused];
    if (!this.signalingUp) return this.lostOnce ? ['signaling-lost', ''] : ['connecting', ''];
    const pcState = this.pc?.connectionState;
    if (pcState === 'failed' || (this.iceTimedOut && pcState !== 'connected')) return ['ice-failed', ''];
    if (pcState === 'connected') return this.resyncing ? ['reconnecting', 'restoring'] : ['connected', ''];
    if (pcState === 'disconnected' || (this.everConnected && this.peer)) return ['reconnecting', 'media'];
    if (this.noAnswer) return ['no-renderer', ''];
    if (this.peer) return ['waiting', ''];
    return ['connecting', ''];
  }

  update() {
    const [state, detail] = this.computeState();
    if (state === this.state && detail === this.detail) return;
    this.state = state;
    this.detail = detail;
    this.log(`state ${state}${detail ? ` (${detail})` : ''}`);
    this.onstate(state, detail);
  }
}
