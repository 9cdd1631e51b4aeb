// One RTCPeerConnection to a renderer, negotiated with "perfect negotiation" (W3C WebRTC 1.0, §10.7 example)
// so that both of these work:
//  * the renderer answers the page's offer (sparc-stream, a modern Unity player in public mode);
//  * the renderer answers, then sends its own offer that adds its video and audio (Unity's Receiver sample
//    behaviour), or offers first (private mode).
// The page's first offer asks for video and audio (recvonly) and carries the "input" data channel.

/** Seconds between resends of an unanswered offer (Unity's browser page does the same: signaling may drop it). */
export const OFFER_RESEND_MS = 5000;

/** The `a=mid:` values of an SDP, in m-line order. */
export function sdpMids(sdp) {
  return [...(sdp || '').matchAll(/^a=mid:(\S+)\s*$/gm)].map((m) => m[1]);
}

/** The first DTLS fingerprint of an SDP: a different one means a different peer connection on the far side. */
export function sdpFingerprint(sdp) {
  return /^a=fingerprint:(.+?)\s*$/m.exec(sdp || '')?.[1]?.toLowerCase() ?? null;
}

const asIndex = (v) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return null;
};

/**
 * An RTCIceCandidateInit from a signaled candidate, read leniently: Unity's browser client sends sdpMid and
 * sdpMLineIndex in each other's places, and either may be a string or a number (quirk Q5). `mids` are the
 * remote description's mids in m-line order. Returns null for an empty (end-of-candidates) candidate.
 */
export function candidateInit(m, mids = []) {
  if (typeof m?.candidate !== 'string' || m.candidate === '') return null;
  const a = m.sdpMid;
  const b = m.sdpMLineIndex;
  let mid = null;
  if (typeof a === 'string' && mids.includes(a)) mid = a;
  else if (typeof b === 'string' && mids.includes(b)) mid = b;  // the fields arrived swapped
  else {
    const index = asIndex(b) ?? asIndex(a);
    if (index !== null && index < mids.length) mid = mids[index];
    else if (typeof a === 'string' && a !== '') mid = a;  // a mid we do not know: let the browser judge
    else if (mids.length) mid = mids[0];  // BUNDLE: every candidate belongs to the first transport
  }
  const init = { candidate: m.candidate };
  if (mid !== null) init.sdpMid = mid;
  if (mids.includes(mid)) init.sdpMLineIndex = mids.indexOf(mid);
  return init;
}

export class Peer {
  /**
   * `send` = {offer(sdp), answer(sdp), candidate(init)}; `polite` from the connect acknowledgement.
   * Events: onanswered(), onremoteoffer(), onoffersent(resend), ontrack(event), onconnectionstate(state),
   * onchannelmessage(obj), onchannelstate(open), onerror(err), onbroken(err) (only a new connection helps).
   */
  constructor({ polite, iceServers = [], send, log = () => {} }) {
    this.polite = polite;
    this.iceServers = iceServers;
    this.send = send;
    this.log = log;
    this.lastRemoteOffer = null;
    this.closed = false;
    this.onanswered = () => {};
    this.onremoteoffer = () => {};
    this.onoffersent = () => {};
    this.ontrack = () => {};
    this.onconnectionstate = () => {};
    this.onchannelmessage = () => {};
    this.onchannelstate = () => {};
    this.onerror = () => {};
    this.onbroken = () => {};
    this.createPc();
    this.resendTimer = setInterval(() => this.resendOffer(), OFFER_RESEND_MS);
  }

  createPc() {
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.answerPending = false;  // setRemoteDescription(answer) in flight
    this.waitingAnswer = false;
    this.started = false;
    this.pendingCandidates = [];
    this.channels = new Set();
    this.input = null;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    const current = (fn) => (...args) => { if (this.pc === pc && !this.closed) fn(...args); };
    pc.onnegotiationneeded = current(() => this.makeOffer());
    pc.onicecandidate = current(({ candidate }) => {
      if (candidate && candidate.candidate) {
        this.send.candidate({ candidate: candidate.candidate, sdpMid: candidate.sdpMid,
          sdpMLineIndex: candidate.sdpMLineIndex });
      }
    });
    pc.ontrack = current((event) => this.ontrack(event));
    pc.onconnectionstatechange = current(() => this.onconnectionstate(pc.connectionState));
    pc.ondatachannel = current(({ channel }) => this.wireChannel(channel));
  }

  /**
   * Ask for the renderer's media (unless `media` is false because its offer already brought it) and open
   * the "input" data channel; negotiationneeded then makes the offer.
   */
  start({ media = true } = {}) {
    if (this.started || this.closed) return;
    this.started = true;
    if (media) {
      this.pc.addTransceiver('video', { direction: 'recvonly' });
      this.pc.addTransceiver('audio', { direction: 'recvonly' });
    }
    this.input = this.pc.createDataChannel('input', { ordered: true });
    this.wireChannel(this.input);
  }

  wireChannel(channel) {
    this.channels.add(channel);
    channel.onopen = () => this.onchannelstate(true);
    channel.onclose = () => { this.channels.delete(channel); this.onchannelstate(this.channelOpen()); };
    channel.onmessage = ({ data }) => {
      if (typeof data !== 'string') return;
      let obj;
      try { obj = JSON.parse(data); } catch { return; }
      if (obj && typeof obj === 'object' && typeof obj.type === 'string') this.onchannelmessage(obj);
    };
  }

  channelOpen() {
    return [...this.channels].some((c) => c.readyState === 'open');
  }

  /** Send a JSON message on the page's "input" channel (or any open one the renderer made). */
  sendMessage(obj) {
    const channel = this.input?.readyState === 'open' ? this.input
      : [...this.channels].find((c) => c.readyState === 'open');
    if (!channel) return false;
    channel.send(JSON.stringify(obj));
    return true;
  }

  async makeOffer() {
    if (this.closed) return;
    const pc = this.pc;
    try {
      this.makingOffer = true;
      await pc.setLocalDescription();
      if (pc !== this.pc || pc.signalingState !== 'have-local-offer') return;
      this.waitingAnswer = true;
      this.log('sending offer');
      this.send.offer(pc.localDescription.sdp);
      this.onoffersent(false);
    } catch (e) {
      this.log(`offer failed: ${e.message}`);
    } finally {
      if (pc === this.pc) this.makingOffer = false;
    }
  }

  /** Offer again on the same connection (after the signaling server came back). */
  renegotiate() {
    if (this.closed) return;
    if (!this.started) { this.start(); return; }
    if (this.pc.signalingState === 'have-local-offer') { this.resendOffer(true); return; }
    this.makeOffer();
  }

  resendOffer(force = false) {
    if (this.closed || !(this.waitingAnswer || force) || this.pc.signalingState !== 'have-local-offer') return;
    this.send.offer(this.pc.localDescription.sdp);
    this.onoffersent(true);
  }

  async handleDescription({ type, sdp }) {
    if (this.closed || (type !== 'offer' && type !== 'answer') || typeof sdp !== 'string') return;
    let pc = this.pc;
    this.log(`received ${type} (signaling state ${pc.signalingState})`);
    if (type === 'answer' && pc.signalingState !== 'have-local-offer') return;  // duplicate or stale answer
    if (type === 'offer') {
      this.onremoteoffer();
      if (sdp === this.lastRemoteOffer) {
        // A resend of an offer we already applied (our answer crossed it, or was lost). Never apply it twice:
        // that could roll back an offer of ours in flight. If our answer is still current, send it again.
        if (pc.signalingState === 'stable' && pc.localDescription?.type === 'answer') {
          this.send.answer(pc.localDescription.sdp);
        }
        return;
      }
    }
    const readyForOffer = !this.makingOffer && (pc.signalingState === 'stable' || this.answerPending);
    const collision = type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) {
      // The impolite side wins the glare; the other side is evidently there now, so offer again at once.
      this.log('glare: ignoring the remote offer');
      this.resendOffer(true);
      return;
    }
    const known = sdpFingerprint(pc.currentRemoteDescription?.sdp);
    const renderer = known && sdpFingerprint(sdp) && sdpFingerprint(sdp) !== known;
    if (renderer && type === 'answer') {
      // Answered from a peer connection that is not the one we talked to (the renderer restarted): the DTLS
      // and SCTP state on our side is for the old one, so only a new connection works.
      this.onbroken(new Error('the renderer answered from a new peer connection'));
      return;
    }
    if ((collision && !pc.currentRemoteDescription) || renderer) {
      // A polite side whose first offer was never answered: Chromium loses the data channel's m-line when an
      // offer that carries it is rolled back, so take the remote offer on a fresh connection instead. The same
      // for an offer from a renderer that has started over.
      this.log('starting a fresh connection for the remote offer');
      for (const c of this.channels) c.close();
      pc.close();
      this.createPc();
      pc = this.pc;
    }
    try {
      this.answerPending = type === 'answer';
      await pc.setRemoteDescription({ type, sdp });  // a polite side rolls back its own offer implicitly
      this.answerPending = false;
      if (type === 'offer') {
        this.lastRemoteOffer = sdp;
        await pc.setLocalDescription();
        this.send.answer(pc.localDescription.sdp);
        // Not started yet (private mode, where the renderer offered first): add the input channel now, and
        // ask for media only if the offer brought none.
        if (!this.started) this.start({ media: !/^m=video /m.test(sdp) });
      } else {
        this.waitingAnswer = false;
        if (this.input && !pc.sctp) {
          // Chromium drops the data channel's m-line for good if an offer that first carried it was rolled
          // back; renegotiating would loop for ever. Only a fresh connection recovers.
          this.onbroken(new Error('the data channel was lost in a rollback'));
          return;
        }
        this.onanswered();
      }
      await this.flushCandidates();
    } catch (e) {
      this.answerPending = false;
      this.log(`${type} failed: ${e.message}`);
      this.onerror(e);
    }
  }

  async handleCandidate(m) {
    if (this.closed) return;
    if (!this.pc.remoteDescription) { this.pendingCandidates.push(m); return; }
    const init = candidateInit(m, sdpMids(this.pc.remoteDescription.sdp));
    if (!init) return;
    try {
      await this.pc.addIceCandidate(init);
    } catch (e) {
      if (!this.ignoreOffer) this.log(`candidate refused: ${e.message}`);
    }
  }

  async flushCandidates() {
    const pending = this.pendingCandidates.splice(0);
    for (const m of pending) await this.handleCandidate(m);
  }

  close() {
    this.closed = true;
    clearInterval(this.resendTimer);
    for (const c of this.channels) c.close();
    this.pc.close();
  }
}
