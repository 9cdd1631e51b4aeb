// The clinician's microphone: 16 kHz mono PCM to the backend's WS /ws/audio (docs/api.md), interim and final
// transcripts back. One utterance per press: start() opens the socket and the microphone, stop() ends the audio
// and resolves with the final text once the recognizer has said "stopped".

const RATE = 16000;
const FRAME_SAMPLES = 1600;  // 100 ms per WebSocket frame

export class Microphone {
  /** `url` is the speechUrl from /config; `oninterim(text)` sees the running hypothesis. */
  constructor(url, { oninterim = () => {}, log = () => {} } = {}) {
    this.url = url;
    this.oninterim = oninterim;
    this.log = log;
    this.ws = null;
    this.context = null;
    this.stream = null;
    this.finals = [];
    this.pending = new Int16Array(0);
  }

  get active() { return this.ws !== null; }

  async start() {
    if (this.ws) return;
    this.finals = [];
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.stopped = new Promise((resolve, reject) => {
      ws.onmessage = ({ data }) => {
        if (typeof data !== 'string') return;
        const m = JSON.parse(data);
        if (m.type === 'transcript') {
          if (m.is_final) { if (m.transcript) this.finals.push(m.transcript); this.oninterim(this.finals.join(' ')); }
          else this.oninterim([...this.finals, m.transcript].join(' '));
        } else if (m.type === 'status' && m.status === 'stopped') {
          resolve(this.finals.join(' ').trim());
        } else if (m.type === 'error') {
          this.log(`speech: ${m.code} ${m.message}`);
          if (!m.recoverable || m.code === 'ASR_STREAM_FAILED') reject(new Error(m.code));
        }
      };
      ws.onclose = () => reject(new Error('closed'));
    });
    this.stopped.catch(() => {});  // start() callers only see stop()'s outcome
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('speech service unreachable'));
    });
    ws.send(JSON.stringify({ type: 'start_recognition', data: { sample_rate: RATE, language: 'en-US', interim_results: true } }));
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    this.context = new AudioContext({ sampleRate: RATE });
    await this.context.audioWorklet.addModule(new URL('./mic-worklet.js', import.meta.url));
    const source = this.context.createMediaStreamSource(this.stream);
    const capture = new AudioWorkletNode(this.context, 'pcm-capture');
    capture.port.onmessage = ({ data }) => this.push(new Int16Array(data));
    source.connect(capture);
    this.log('microphone on');
  }

  /** Sends whole 100 ms frames; the worklet delivers 128-sample blocks. */
  push(samples) {
    const joined = new Int16Array(this.pending.length + samples.length);
    joined.set(this.pending);
    joined.set(samples, this.pending.length);
    let at = 0;
    for (; at + FRAME_SAMPLES <= joined.length; at += FRAME_SAMPLES) {
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(joined.slice(at, at + FRAME_SAMPLES).buffer);
    }
    this.pending = joined.slice(at);
  }

  /** Ends the utterance: resolves with its final text ('' when nothing was recognised). */
  async stop() {
    if (!this.ws) return '';
    this.stream?.getTracks().forEach((t) => t.stop());
    await this.context?.close().catch(() => {});
    if (this.pending.length && this.ws.readyState === WebSocket.OPEN) this.ws.send(this.pending.buffer);
    this.pending = new Int16Array(0);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'stop_recognition' }));
    const ws = this.ws;
    try {
      return await Promise.race([this.stopped, new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), 10000))]);
    } finally {
      this.ws = null;
      this.stream = null;
      this.context = null;
      ws.close();
      this.log('microphone off');
    }
  }
}
