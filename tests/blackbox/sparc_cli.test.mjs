// The sparc CLI from the outside: init, validate (findings with file:line), and the process runtime — up (detached),
// status, check, a crashed service restarted, logs, down with no process left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const SPARC = process.env.SPARC_CLI_BIN;

function sparc(dir, args, { timeout = 60000 } = {}) {
  assert.ok(SPARC && existsSync(SPARC), 'SPARC_CLI_BIN must point at the sparc binary');
  const r = spawnSync(SPARC, args, { cwd: dir, encoding: 'utf8', timeout, env: { ...process.env, SPARC_SPEC: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr, all: `${r.stdout}\n${r.stderr}` };
}

async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const s = createServer();
    await new Promise((res) => s.listen(0, '127.0.0.1', res));
    servers.push(s);
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
  return ports;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function specDir(extra = '') {
  const dir = mkdtempSync(join(tmpdir(), 'sparc-cli-'));
  const [signal, metrics, mas, health] = await freePorts(4);
  writeFileSync(join(dir, 'sparc.toml'), `[stack]\nname = "cli-test"\nstate_dir = "state"\n` +
    `[signal]\nport = ${signal}\nmetrics_port = ${metrics}\n[mas]\nport = ${mas}\n` +
    `[renderer]\nhealth_port = ${health}\nwidth = 320\nheight = 240\nfps = 15\n` +
    `[webrtc]\nice_bind = "127.0.0.1"\n${extra}`);
  return { dir, ports: { signal, metrics, mas, health } };
}

test('init writes a spec that validates clean, and refuses to overwrite it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparc-cli-'));
  const init = sparc(dir, ['init']);
  assert.equal(init.code, 0, init.all);
  assert.match(readFileSync(join(dir, 'sparc.toml'), 'utf8'), /\[renderer\]/);
  const v = sparc(dir, ['validate']);
  assert.equal(v.code, 0, v.all);
  assert.match(v.err, /0 error\(s\), 0 warning\(s\)/);
  const again = sparc(dir, ['init']);
  assert.equal(again.code, 2);
  assert.match(again.err, /exists; --force/);
  assert.equal(sparc(dir, ['init', '--force']).code, 0);
});

test('check proves the HTTP polling transport: connect acknowledged and the renderer answers an offer',
  { timeout: 90000 }, async () => {
    const { dir } = await specDir();
    writeFileSync(join(dir, 'sparc.toml'),
      readFileSync(join(dir, 'sparc.toml'), 'utf8').replace(/\[signal\]\n/, '[signal]\ntransport = "http"\n'));
    const up = sparc(dir, ['up', '--detach']);
    try {
      assert.equal(up.code, 0, up.all);
      const check = sparc(dir, ['check', '--browser', 'none']);
      assert.equal(check.code, 0, check.all);
      assert.match(check.out, /transport http/);
      assert.match(check.out, /ok\s+signaling connect\s+\d+ ms\s+HTTP polling connect acknowledged/);
      assert.match(check.out, /ok\s+renderer answers\s+\d+ ms\s+a renderer sent its answer over HTTP polling/);
    } finally {
      assert.equal(sparc(dir, ['down']).code, 0);
    }
  });

test('validate reports the seed deployment\'s mistakes with file, line, id and a fix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparc-cli-'));
  writeFileSync(join(dir, 'bad.toml'), [
    '[stack]', 'public = true', 'public_host = "localhost"',
    '[renderer]', 'kind = "unity"', 'unity_executable = "SPARC.x86_64"', 'unity_args = ["-batchmode"]',
    'image = "nvidia/opengl:1.2-glvnd-runtime"',
    '[riva]', 'enabled = true',
    '[hpc]', 'gpus = 4', 'time = "UNLIMITED"',
    '[mas]', 'env = { OPENAI_API_KEY = "sk-live" }', ''].join('\n'));
  const v = sparc(dir, ['-f', 'bad.toml', 'validate']);
  assert.equal(v.code, 1, v.all);
  for (const id of ['turn-host-unreachable', 'unity-no-rendering', 'graphics-api-mismatch', 'port-collision',
    'slurm-time', 'secret-in-env', 'hpc-gpus', 'turn-missing']) assert.match(v.err, new RegExp(`\\[${id}\\]`), id);
  assert.match(v.err, /^bad\.toml:7:\d+: error\[unity-no-rendering\]: .*-batchmode/m);
  assert.match(v.err, /hint: /);

  writeFileSync(join(dir, 'typo.toml'), '[signal]\nprot = 8080\n');
  const t = sparc(dir, ['-f', 'typo.toml', 'validate']);
  assert.equal(t.code, 2);
  assert.match(t.err, /typo\.toml:2:1: unknown key 'prot' in \[signal\]/);
  assert.equal(sparc(dir, ['-f', 'missing.toml', 'validate']).code, 2);
});

test('up starts the stack healthy, check passes, a killed service comes back, down leaves nothing running',
  { timeout: 120000 }, async () => {
    const { dir, ports } = await specDir();
    const up = sparc(dir, ['up', '--detach']);
    try {
      assert.equal(up.code, 0, up.all);
      assert.match(up.out, /✔ mas .*healthy/);
      assert.match(up.out, /✔ renderer-1 .*healthy/);
      assert.match(up.out, new RegExp(`Open http://127\\.0\\.0\\.1:${ports.signal}/`));

      const again = sparc(dir, ['up', '--detach']);
      assert.equal(again.code, 2, 'a second up on the same state folder is refused');
      assert.match(again.out, /already up/);

      const st = sparc(dir, ['status']);
      assert.equal(st.code, 0, st.all);
      assert.match(st.out, /renderer-1\s+healthy/);

      const check = sparc(dir, ['check']);
      assert.equal(check.code, 0, check.all);
      assert.match(check.out, /ok\s+chat turn/);
      assert.match(check.out, /ok\s+renderer answers/);
      // Debian's Chromium is part of the test install: where it is, frames must decode; elsewhere the check skips.
      assert.match(check.out, existsSync('/usr/bin/chromium')
        ? /ok\s+browser frames\s+\d+ ms\s+\d+ video frames decoded/ : /skip\s+browser frames/);
      assert.match(check.out, /All checks passed/);

      // Kill the backend hard: the supervisor restarts it and the stack is whole again.
      const state = () => JSON.parse(readFileSync(join(dir, 'state', 'state.json'), 'utf8'));
      const mas = state().services.find((s) => s.name === 'mas');
      process.kill(mas.pid, 'SIGKILL');
      const deadline = Date.now() + 20000;
      let now;
      while (Date.now() < deadline) {
        now = state().services.find((s) => s.name === 'mas');
        if (now.restarts >= 1 && now.pid > 0 && now.pid !== mas.pid && sparc(dir, ['status']).code === 0) break;
        await delay(200);
      }
      assert.equal(now.restarts, 1, JSON.stringify(now));
      assert.notEqual(now.pid, mas.pid);
      const logs = sparc(dir, ['logs', 'mas', '-n', '50']);
      assert.equal(logs.code, 0);
      assert.match(logs.out, /=== sparc: exited \(signal Killed\)/);
      assert.match(logs.out, /=== sparc: restarting in 1 s ===/);
      assert.equal(sparc(dir, ['logs', 'nothing']).code, 2);
    } finally {
      const pids = existsSync(join(dir, 'state', 'state.json'))
        ? JSON.parse(readFileSync(join(dir, 'state', 'state.json'), 'utf8')).services.map((s) => s.pid).filter((p) => p > 0)
        : [];
      const supervisor = Number(readFileSync(join(dir, 'state', 'sparc.pid'), 'utf8').trim() || 0);
      const down = sparc(dir, ['down']);
      assert.equal(down.code, 0, down.all);
      await delay(100);
      for (const pid of [...pids, supervisor]) assert.ok(!alive(pid), `pid ${pid} is gone after down`);
      assert.equal(sparc(dir, ['status']).code, 3);
    }
  });

test('up refuses, changing nothing, when a port is taken or a program is missing', async () => {
  const { dir, ports } = await specDir();
  const blocker = createServer();
  await new Promise((res) => blocker.listen(ports.mas, '127.0.0.1', res));
  try {
    const up = sparc(dir, ['up', '--detach']);
    assert.equal(up.code, 2, up.all);
    assert.match(up.out, new RegExp(`127\\.0\\.0\\.1:${ports.mas} is already in use`));
  } finally {
    blocker.close();
  }
  const spec = readFileSync(join(dir, 'sparc.toml'), 'utf8').replace('[renderer]\n', '[renderer]\nkind = "unity"\nunity_executable = "/nonexistent/Player.x86_64"\ngpus = 1\n');
  writeFileSync(join(dir, 'sparc.toml'), spec);
  const unity = sparc(dir, ['up', '--detach']);
  assert.equal(unity.code, 2, unity.all);
  assert.match(unity.out, /renderer-1: cannot find the program '\/nonexistent\/Player\.x86_64'/);
  assert.equal(sparc(dir, ['status']).code, 3);
});

test('with coturn in the spec, up starts it first and check allocates a relay with the minted credentials',
  { timeout: 90000, skip: !existsSync('/usr/bin/turnserver') && 'coturn is not installed (scripts/test.sh installs it)' },
  async () => {
    const [turn] = await freePorts(1);
    const { dir } = await specDir(`[coturn]\nenabled = true\nport = ${turn}\nsecret_file = "turn.secret"\n`);
    writeFileSync(join(dir, 'turn.secret'), 'a-test-secret\n', { mode: 0o600 });
    const up = sparc(dir, ['up', '--detach']);
    try {
      assert.equal(up.code, 0, up.all);
      assert.match(up.out, /✔ coturn .*healthy[\s\S]*✔ mas/);
      const conf = readFileSync(join(dir, 'state', 'data', 'coturn', 'turnserver.conf'), 'utf8');
      assert.match(conf, new RegExp(`listening-port=${turn}`));
      const check = sparc(dir, ['check', '--browser', 'none']);
      assert.equal(check.code, 0, check.all);
      assert.match(check.out, /ok\s+TURN allocation\s+\d+ ms\s+relay 127\.0\.0\.1:\d+ from turn:127\.0\.0\.1/);
    } finally {
      assert.equal(sparc(dir, ['down']).code, 0);
    }
  });

test('the tool commands say what is missing instead of failing obscurely', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparc-cli-'));
  const st = sparc(dir, ['slurm', 'status']);
  assert.equal(st.code, 3, st.all);
  assert.match(st.out, /SLURM \(squeue\) is not installed here|No jobs submitted from/);
  const cancel = sparc(dir, ['slurm', 'cancel']);
  assert.equal(cancel.code, 3, cancel.all);
  const build = sparc(dir, ['build', '--context', dir]);
  assert.ok(build.code === 2 || build.code === 3, build.all);
  assert.match(build.out, /is not the SPARC source tree|podman is not installed here/);
  assert.equal(sparc(dir, ['slurm']).code, 106, 'a subcommand is required');
});

test('a backend with API keys: the renderer and check both use the renderer\'s key', { timeout: 90000 }, async () => {
  const { dir } = await specDir('');
  const spec = readFileSync(join(dir, 'sparc.toml'), 'utf8')
    .replace('[mas]\n', '[mas]\napi_keys_file = "keys"\n')
    .replace('[renderer]\n', '[renderer]\nmas_api_key_file = "renderer.key"\n');
  writeFileSync(join(dir, 'sparc.toml'), spec);
  writeFileSync(join(dir, 'keys'), 'k-renderer-0123456789abcdef\nk-other-0123456789abcdef\n', { mode: 0o600 });
  writeFileSync(join(dir, 'renderer.key'), 'k-renderer-0123456789abcdef\n', { mode: 0o600 });
  const up = sparc(dir, ['up', '--detach']);
  try {
    assert.equal(up.code, 0, up.all);
    const check = sparc(dir, ['check', '--browser', 'none']);
    assert.equal(check.code, 0, check.all);
    assert.match(check.out, /ok\s+chat turn/);
    writeFileSync(join(dir, 'wrong.key'), 'not-a-key\n');
    const wrong = sparc(dir, ['check', '--browser', 'none', '--api-key-file', 'wrong.key']);
    assert.equal(wrong.code, 1, wrong.all);
    assert.match(wrong.out, /FAIL\s+chat turn\s+\d+ ms\s+HTTP 401/);
  } finally {
    assert.equal(sparc(dir, ['down']).code, 0);
  }
});
