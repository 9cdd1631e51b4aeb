// Starting sparc-mas for black-box suites, and small request helpers.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export const BIN = process.env.SPARC_MAS_BIN;

/** Starts sparc-mas on a free loopback port with its database in `dir`; `stop()` asserts a clean exit. */
export async function startMas(args = [], dir = mkdtempSync(join(tmpdir(), 'sparc-mas-'))) {
  assert.ok(BIN && existsSync(BIN), 'SPARC_MAS_BIN must point at the sparc-mas binary');
  const ready = join(dir, 'ready.json');
  const db = join(dir, 'mas.db');
  rmSync(ready, { force: true });  // a restart on the same directory must not read the old port
  const proc = spawn(BIN, ['--bind', '127.0.0.1', '-p', '0', '--db', db, '--ready-file', ready, '--log-format', 'text', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const deadline = Date.now() + 8000;
  while (!existsSync(ready)) {
    if (proc.exitCode !== null) throw new Error(`sparc-mas exited ${proc.exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`sparc-mas not ready: ${stderr}`);
    await delay(20);
  }
  const { port } = JSON.parse(readFileSync(ready, 'utf8'));
  const base = `http://127.0.0.1:${port}`;
  return {
    base, db, dir, proc,
    async stop() {
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, `clean exit (stderr: ${stderr})`);
    },
  };
}

export async function chat(srv, body, headers = {}) {
  const res = await fetch(`${srv.base}/v1/chat`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

export function verify(db) {
  return spawnSync(BIN, ['audit', 'verify', '--db', db], { encoding: 'utf8' });
}
