// Time to first audio through sparc-mas's WS /ws/chat (bench/llm.sh runs it): N caregiver turns one after another,
// each on its own session; for each, from sending the request to the first sentence event (its audio already
// synthesized and fetchable), and to the reply. One JSON line on stdout.
//   node bench/ttfa.mjs MAS_URL TURNS
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const WebSocket = require('ws');

const [base, turnsArg = '20'] = process.argv.slice(2);
const turns = Number(turnsArg);

function turn(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws/chat`);
    let sent = 0;
    let first = null;
    let sentences = 0;
    ws.on('message', async (data) => {
      const e = JSON.parse(data.toString());
      if (e.type === 'status') {
        sent = performance.now();
        ws.send(JSON.stringify({ type: 'chat', request: { session_id: `ttfa-${process.pid}-${i}`, user_message: 'Riley is due for her HPV vaccine today.' } }));
      } else if (e.type === 'sentence') {
        if (first === null) {
          first = performance.now() - sent;
          // The audio must really be there: fetch it (not counted).
          const res = await fetch(`${base}${e.audio_url}`);
          if (res.status !== 200) reject(new Error(`audio ${res.status}`));
        }
        sentences += 1;
      } else if (e.type === 'reply') {
        const reply = performance.now() - sent;
        ws.close();
        if (e.status !== 200) reject(new Error(`reply ${e.status}`));
        else resolve({ first, reply, sentences });
      }
    });
    ws.on('error', reject);
  });
}

const pct = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const firsts = [];
const replies = [];
let sentences = 0;
for (let i = 0; i < turns; i++) {
  const r = await turn(i);
  firsts.push(r.first);
  replies.push(r.reply);
  sentences = r.sentences;
}
const round = (x) => Math.round(x * 10) / 10;
console.log(JSON.stringify({ turns, sentences_per_reply: sentences,
  first_audio_p50_ms: round(pct(firsts, 0.5)), first_audio_p90_ms: round(pct(firsts, 0.9)), first_audio_max_ms: round(Math.max(...firsts)),
  reply_p50_ms: round(pct(replies, 0.5)), reply_p90_ms: round(pct(replies, 0.9)) }));
