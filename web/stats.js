// The stats overlay's numbers, read from RTCPeerConnection.getStats() once a second.

/**
 * Summarise one getStats() report. `prev` is the previous call's `state` (or null); `now` is in ms.
 * Returns {fps, kbps, rttMs, codec, audioCodec, width, height, framesDecoded, audioPackets, state}; a value
 * that cannot be known yet is null.
 */
export function summarize(report, prev, now) {
  const byId = new Map();
  for (const s of report.values()) byId.set(s.id, s);
  let video = null;
  let audio = null;
  let transport = null;
  let bytes = 0;
  for (const s of byId.values()) {
    if (s.type === 'inbound-rtp') {
      bytes += s.bytesReceived || 0;
      if (s.kind === 'video' && (!video || (s.framesDecoded || 0) > (video.framesDecoded || 0))) video = s;
      if (s.kind === 'audio' && (!audio || (s.packetsReceived || 0) > (audio.packetsReceived || 0))) audio = s;
    } else if (s.type === 'transport' && s.selectedCandidatePairId) {
      transport = s;
    }
  }
  let pair = transport ? byId.get(transport.selectedCandidatePairId) : null;
  if (!pair) {
    pair = [...byId.values()].find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
  }
  const frames = video?.framesDecoded ?? 0;
  const dt = prev ? (now - prev.at) / 1000 : 0;
  let fps = null;
  if (typeof video?.framesPerSecond === 'number') fps = video.framesPerSecond;
  else if (prev && dt > 0) fps = Math.max(0, (frames - prev.frames) / dt);
  const kbps = prev && dt > 0 ? Math.max(0, ((bytes - prev.bytes) * 8) / 1000 / dt) : null;
  const rtt = pair?.currentRoundTripTime;
  return {
    fps,
    kbps,
    rttMs: typeof rtt === 'number' ? rtt * 1000 : null,
    codec: (video?.codecId && byId.get(video.codecId)?.mimeType) || null,
    audioCodec: (audio?.codecId && byId.get(audio.codecId)?.mimeType) || null,
    width: video?.frameWidth ?? null,
    height: video?.frameHeight ?? null,
    framesDecoded: frames,
    audioPackets: audio?.packetsReceived ?? 0,
    state: { at: now, bytes, frames },
  };
}

/** Text for each overlay row; "–" while unknown. */
export function formatStats(s) {
  const dash = '–';
  return {
    fps: s.fps === null ? dash : s.fps.toFixed(s.fps < 10 ? 1 : 0),
    bitrate: s.kbps === null ? dash : s.kbps >= 1000 ? `${(s.kbps / 1000).toFixed(2)} Mbps` : `${Math.round(s.kbps)} kbps`,
    rtt: s.rttMs === null ? dash : `${s.rttMs.toFixed(s.rttMs < 10 ? 1 : 0)} ms`,
    codec: [s.codec, s.audioCodec].filter(Boolean).join(' + ') || dash,
    resolution: s.width && s.height ? `${s.width}×${s.height}` : dash,
  };
}

/** Calls `onsample(summary)` every `intervalMs` while started. */
export class StatsSampler {
  constructor(getPc, onsample, intervalMs = 1000) {
    this.getPc = getPc;
    this.onsample = onsample;
    this.intervalMs = intervalMs;
    this.prev = null;
    this.timer = null;
  }

  start() {
    if (this.timer) return;
    this.prev = null;
    const tick = async () => {
      const pc = this.getPc();
      if (pc && pc.connectionState !== 'closed') {
        try {
          const s = summarize(await pc.getStats(), this.prev, performance.now());
          this.prev = s.state;
          this.onsample(s);
        } catch { /* the connection closed under us */ }
      }
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}
