// The browser client's pure pieces, in Node without a browser: lenient candidate parsing (quirk Q5), message
// normalisation, HTTP-polling deduplication and the stats overlay's arithmetic.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { candidateInit, sdpFingerprint, sdpMids } from '../../web/peer.js';
import { HttpSignaling, httpEntryKey, normaliseWsMessage } from '../../web/signaling.js';
import { formatStats, summarize } from '../../web/stats.js';

const C = 'candidate:1 1 udp 2122260223 192.0.2.2 40480 typ host generation 0';

describe('candidateInit (sdpMid / sdpMLineIndex read leniently)', () => {
  const chrome = ['0', '1', '2'];
  const gst = ['video0', 'audio1', 'application2'];
  const cases = [
    ['as sent by a spec-following peer', { sdpMid: '1', sdpMLineIndex: 1 }, chrome, { sdpMid: '1', sdpMLineIndex: 1 }],
    ['swapped, as Unity\'s browser client sends them', { sdpMid: 1, sdpMLineIndex: '1' }, chrome,
      { sdpMid: '1', sdpMLineIndex: 1 }],
    ['swapped with named mids', { sdpMid: 1, sdpMLineIndex: 'audio1' }, gst, { sdpMid: 'audio1', sdpMLineIndex: 1 }],
    ['named mid in place', { sdpMid: 'application2', sdpMLineIndex: 2 }, gst,
      { sdpMid: 'application2', sdpMLineIndex: 2 }],
    ['both numbers', { sdpMid: 2, sdpMLineIndex: 2 }, gst, { sdpMid: 'application2', sdpMLineIndex: 2 }],
    ['index as a string only', { sdpMLineIndex: '1' }, gst, { sdpMid: 'audio1', sdpMLineIndex: 1 }],
    ['nothing: the first (BUNDLE) transport', { sdpMid: null, sdpMLineIndex: null }, gst,
      { sdpMid: 'video0', sdpMLineIndex: 0 }],
    ['an unknown mid is passed on for the browser to judge', { sdpMid: 'x', sdpMLineIndex: 9 }, chrome, { sdpMid: 'x' }],
  ];
  for (const [name, fields, mids, want] of cases) {
    test(name, () => assert.deepEqual(candidateInit({ candidate: C, ...fields }, mids), { candidate: C, ...want }));
  }
  test('an empty or missing candidate is skipped', () => {
    assert.equal(candidateInit({ candidate: '', sdpMid: '0' }, chrome), null);
    assert.equal(candidateInit({ sdpMid: '0' }, chrome), null);
    assert.equal(candidateInit(null, chrome), null);
  });
  test('sdpFingerprint reads the first DTLS fingerprint, case-folded', () => {
    assert.equal(sdpFingerprint('v=0\r\nm=video 9 x\r\na=fingerprint:sha-256 AB:CD\r\na=fingerprint:sha-256 EF\r\n'),
      'sha-256 ab:cd');
    assert.equal(sdpFingerprint('v=0\r\n'), null);
    assert.equal(sdpFingerprint(undefined), null);
  });
  test('sdpMids reads a=mid lines in order', () => {
    assert.deepEqual(sdpMids('v=0\r\nm=video 9 x\r\na=mid:video0\r\nm=audio 9 x\r\na=mid:1\r\n'), ['video0', '1']);
    assert.deepEqual(sdpMids(undefined), []);
  });
});

describe('normaliseWsMessage', () => {
  test('relayed messages name the connection in from and carry fields in data', () => {
    assert.deepEqual(normaliseWsMessage({ from: 'c1', to: '', type: 'offer', data: { sdp: 'S', datetime: 5, polite: false } }),
      { type: 'offer', connectionId: 'c1', sdp: 'S', datetime: 5, polite: false });
    assert.deepEqual(normaliseWsMessage({ from: 'c1', to: '', type: 'candidate',
      data: { candidate: C, sdpMLineIndex: '0', sdpMid: 0, datetime: 6 } }),
    { type: 'candidate', connectionId: 'c1', candidate: C, sdpMLineIndex: '0', sdpMid: 0, datetime: 6 });
  });
  test('acks, disconnects and errors pass through', () => {
    assert.deepEqual(normaliseWsMessage({ type: 'connect', connectionId: 'c1', polite: true }),
      { type: 'connect', connectionId: 'c1', polite: true });
    assert.deepEqual(normaliseWsMessage({ type: 'error', message: 'm', code: 'no_free_streamer' }),
      { type: 'error', message: 'm', code: 'no_free_streamer' });
  });
  test('anything else is dropped', () => {
    for (const raw of [null, 3, [], {}, { type: 4 }]) assert.equal(normaliseWsMessage(raw), null);
  });
});

describe('HttpSignaling polling', () => {
  test('follows datetime as fromtime, drops repeats and connect entries, reports a lost session once', async () => {
    const polls = [
      { messages: [{ connectionId: 'c1', type: 'connect', datetime: 100 },
        { connectionId: 'c1', sdp: 'A', type: 'answer', datetime: 90 },
        { connectionId: 'c1', candidate: 'x', sdpMid: '0', sdpMLineIndex: 0, type: 'candidate', datetime: 90 },
        { connectionId: 'c1', candidate: 'y', sdpMid: '0', sdpMLineIndex: 0, type: 'candidate', datetime: 90 }],
      datetime: 90 },
      // The inclusive filter repeats everything stamped 90; one new candidate at 95.
      { messages: [{ connectionId: 'c1', sdp: 'A', type: 'answer', datetime: 90 },
        { connectionId: 'c1', candidate: 'y', sdpMid: '0', sdpMLineIndex: 0, type: 'candidate', datetime: 90 },
        { connectionId: 'c1', candidate: 'z', sdpMid: '0', sdpMLineIndex: 0, type: 'candidate', datetime: 95 }],
      datetime: 95 },
    ];
    const urls = [];
    const json = (body, status = 200) => new Response(JSON.stringify(body),
      { status, headers: { 'Content-Type': 'application/json' } });
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (url, init) => {
      urls.push(`${init.method} ${url} ${init.headers['Session-Id'] ?? '-'}`);
      if (init.method === 'PUT') return json({ sessionId: 's1' });
      const next = polls.shift();
      return next ? json(next) : new Response('Not Found', { status: 404 });
    };
    try {
      const sig = new HttpSignaling('http://h', { intervalMs: 1 });
      const got = [];
      let lost = 0;
      const done = new Promise((resolve) => { sig.onlost = () => { lost += 1; resolve(); }; });
      sig.onmessage = (m) => got.push(`${m.type}:${m.sdp ?? m.candidate}`);
      await sig.start();
      await done;
      assert.deepEqual(got, ['answer:A', 'candidate:x', 'candidate:y', 'candidate:z']);
      assert.deepEqual(urls, ['PUT http://h/signaling -', 'GET http://h/signaling?fromtime=0 s1',
        'GET http://h/signaling?fromtime=90 s1', 'GET http://h/signaling?fromtime=95 s1']);
      assert.equal(lost, 1);
      sig.stop();
    } finally {
      globalThis.fetch = realFetch;
    }
  });
  test('entry keys tell apart candidates stored in the same millisecond', () => {
    const a = { type: 'candidate', connectionId: 'c', datetime: 1, candidate: 'a' };
    assert.notEqual(httpEntryKey(a), httpEntryKey({ ...a, candidate: 'b' }));
    assert.equal(httpEntryKey(a), httpEntryKey({ ...a }));
  });
});

describe('stats overlay', () => {
  const report = (over = {}) => new Map(Object.entries({
    v: { id: 'v', type: 'inbound-rtp', kind: 'video', framesDecoded: 300, bytesReceived: 1_000_000, codecId: 'cv',
      frameWidth: 1280, frameHeight: 720, ...over.v },
    a: { id: 'a', type: 'inbound-rtp', kind: 'audio', packetsReceived: 500, bytesReceived: 50_000, codecId: 'ca' },
    cv: { id: 'cv', type: 'codec', mimeType: 'video/H264' },
    ca: { id: 'ca', type: 'codec', mimeType: 'audio/opus' },
    t: { id: 't', type: 'transport', selectedCandidatePairId: 'p2' },
    p1: { id: 'p1', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.5 },
    p2: { id: 'p2', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.004 },
  }));
  test('first sample: counters known, rates not yet', () => {
    const s = summarize(report(), null, 1000);
    assert.equal(s.kbps, null);
    assert.equal(s.fps, null);
    assert.equal(s.rttMs, 4);
    assert.equal(s.codec, 'video/H264');
    assert.equal(s.audioCodec, 'audio/opus');
    assert.equal(s.audioPackets, 500);
    assert.deepEqual(formatStats(s), { fps: '–', bitrate: '–', rtt: '4.0 ms', codec: 'video/H264 + audio/opus',
      resolution: '1280×720' });
  });
  test('rates from deltas, or framesPerSecond when the browser gives it', () => {
    const first = summarize(report(), null, 1000);
    const second = summarize(report({ v: { framesDecoded: 330, bytesReceived: 1_250_000 } }), first.state, 2000);
    assert.equal(second.fps, 30);
    assert.equal(second.kbps, 2000);
    assert.equal(formatStats(second).bitrate, '2.00 Mbps');
    const third = summarize(report({ v: { framesDecoded: 360, bytesReceived: 1_250_000, framesPerSecond: 29 } }),
      second.state, 3000);
    assert.equal(third.fps, 29);
    assert.equal(formatStats(third).bitrate, '0 kbps');
  });
  test('without a selected pair, the nominated succeeded pair gives the RTT', () => {
    const r = report();
    r.delete('t');
    assert.equal(summarize(r, null, 0).rttMs, 500);
  });
});
