// Small shared helpers for the black-box suites.
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { openWs, closeAll, isNowish } from './ws.mjs';

/** Quiet window for "must not receive" checks (kept short on purpose). */
export const QUIET_MS = 200;

export const uid = (p = 'c') => `${p}-${randomUUID()}`;

/** Open `n` clients on `srv`, closed automatically when test `t` ends. */
export async function clients(t, srv, n = 1, opts = {}) {
  const cs = [];
  t.after(() => closeAll(cs));
  for (let i = 0; i < n; i++) cs.push(await openWs(srv, { label: `${opts.prefix || 'ws'}${i}`, ...opts }));
  return cs;
}

/** Check a relayed {from,to,type,data} frame: exact keys, datetime an integer near now. */
export function assertRelay(frame, { from, type, data }) {
  assert.ok(frame && typeof frame === 'object', `relay is an object: ${JSON.stringify(frame)}`);
  assert.ok(frame.data && typeof frame.data === 'object', `relay has data: ${JSON.stringify(frame)}`);
  assert.ok(isNowish(frame.data.datetime), `data.datetime is integer ms near now: ${JSON.stringify(frame.data.datetime)}`);
  assert.deepEqual(frame, { from, to: '', type, data: { ...data, datetime: frame.data.datetime } });
}

/** Expect nothing on all given clients at once (one shared quiet window). */
export async function quiet(cs, ms = QUIET_MS, what = '') {
  await Promise.all(cs.map((c) => c.expectNothing(ms, undefined, what)));
}

export const SDP_OFFER = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n';
export const SDP_ANSWER = 'v=0\r\no=- 123 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=answer\r\n';

/** Candidate payloads whose field values and JSON types must survive the relay unchanged. */
export const ODD_CANDIDATES = [
  // Quirk Q5: the browser swaps the two fields.
  { candidate: 'candidate:1 1 UDP 2122252543 192.0.2.1 54321 typ host', sdpMLineIndex: '0', sdpMid: 0 },
  { candidate: 'candidate:2 1 udp 1 192.0.2.2 9 typ host é "q" \\ \u2603', sdpMLineIndex: 1.5, sdpMid: null },
  { candidate: '', sdpMLineIndex: { nested: [1, { x: null }, [[]]], s: 'y' }, sdpMid: [true, false, '0', 0.25] },
  { candidate: 'c', sdpMLineIndex: -3, sdpMid: '' },
  { candidate: 'd', sdpMLineIndex: 12345678901, sdpMid: false },
  // Absent fields stay absent (the reference's JSON.stringify drops undefined).
  { candidate: 'e', sdpMLineIndex: 0 },
  { candidate: 'f', sdpMid: 'audio' },
];

export { isNowish, openWs, closeAll };
