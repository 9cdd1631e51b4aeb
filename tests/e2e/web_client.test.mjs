// The browser client (web/) end to end, in Debian's Chromium through playwright-core, against the real
// sparc-signal binary and a stand-in renderer (fake_renderer.html/.js) in a second Chromium page. It checks
// what a clinician would see: video frames, sound packets, the chat round trip, the state banner for each
// failure, recovery after the signaling server restarts, and the phone layout. Screenshots go to
// build/e2e-artifacts/.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { ARTIFACTS, CONNECT_MS, DESKTOP, PHONE, artifact, audioArrives, closeBrowser, framesRise, freePort, inbound,
  launchBrowser, openViewer, signal, videoNotBlank, waitState } from './lib.mjs';

const FAKE = { html: readFileSync(new URL('fake_renderer.html', import.meta.url)),
  js: readFileSync(new URL('fake_renderer.js', import.meta.url)) };

let browser;
before(async () => { browser = await launchBrowser(); });
after(closeBrowser);

/** The stand-in renderer, same-origin with the signaling server so fetch and WebSocket need no CORS. */
async function openRenderer(srv, query = '') {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route('**/__fake_renderer.*', (route) => {
    const js = new URL(route.request().url()).pathname.endsWith('.js');
    return route.fulfill({ body: js ? FAKE.js : FAKE.html,
      contentType: js ? 'text/javascript; charset=utf-8' : 'text/html; charset=utf-8' });
  });
  await page.goto(`${srv.base}/__fake_renderer.html?${query}`);
  await page.waitForFunction(() => window.fake?.signalOpens > 0, null, { timeout: 10000 });
  return { page, context, log: () => page.evaluate(() => window.fake.log.join('\n')).catch(() => '(closed)') };
}

async function chatRoundTrip(page, text) {
  await page.waitForSelector('#chat-fields:not([disabled])', { timeout: 10000 });
  await page.getByLabel('Your message to the caregiver').fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.turn--clinician', { hasText: text }).waitFor({ timeout: 5000 });
  await page.locator('.turn--caregiver', { hasText: `You said: ${text}` }).waitFor({ timeout: 5000 });
  assert.equal(await page.textContent('#caption'), `You said: ${text}`);
  assert.equal(await page.inputValue('#chat-input'), '', 'the input is cleared after sending');
}

/** Run `fn`, attaching the renderer's log to any failure. */
async function withLogs(renderers, fn) {
  try {
    return await fn();
  } catch (e) {
    const logs = await Promise.all(renderers.map((r) => r.log()));
    throw new Error(e.message + logs.map((l, i) => `\n--- ${renderers[i].page.url().includes('__fake') ?
      'fake renderer' : 'viewer'} log ---\n${l}`).join(''), { cause: e });
  }
}

describe('web client end to end', { concurrency: 4 }, () => {
  for (const type of ['websocket', 'http']) {
    for (const mode of ['public', 'private']) {
      test(`${type} ${mode}: video, audio, chat`, { timeout: 60000 }, async () => {
        const srv = await signal(['-t', type, '-m', mode]);
        const id = `e2e-${type}-${mode}`;
        let renderer; let viewer;
        try {
          // Private mode: over WebSocket the renderer waits first; over HTTP the viewer does (both glare orders).
          const rendererFirst = !(type === 'http' && mode === 'private');
          if (rendererFirst) renderer = await openRenderer(srv, mode === 'private' ? `id=${id}` : '');
          viewer = await openViewer(srv, { query: mode === 'private' ? `?id=${id}` : '' });
          if (!rendererFirst) renderer = await openRenderer(srv, `id=${id}`);
          const { page, errors } = viewer;
          await withLogs([renderer, viewer], async () => {
            await waitState(page, 'connected');
            assert.equal(await page.textContent('#transport'), type === 'websocket' ? 'WebSocket' : 'HTTP polling');
            assert.equal(await page.textContent('#mode'), mode);
            assert.equal(await page.textContent('#state-text'), 'Connected');
            const shownId = await page.textContent('#connection-id');
            if (mode === 'private') assert.equal(shownId, id);
            else assert.match(shownId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
            assert.match(await page.textContent('#role'), /^(polite|impolite)$/);
            if (mode === 'public') assert.equal(await page.textContent('#role'), 'polite');
            await framesRise(page);
            await audioArrives(page);
            await videoNotBlank(page, `video-${type}-${mode}.png`);
            await chatRoundTrip(page, `Hello from ${type} ${mode}`);
            const got = await renderer.page.evaluate(() => window.fake.received.map((r) => r.message));
            assert.deepEqual(got.at(-1), { type: 'chat', text: `Hello from ${type} ${mode}` });
            if (type === 'websocket' && mode === 'public') await page.screenshot({ path: artifact('desktop-connected.png') });
          });
          // Ending the session tells the renderer; the banner says so.
          await page.getByRole('button', { name: 'End session' }).click();
          await waitState(page, 'ended', 5000);
          assert.equal(await page.textContent('#state-text'), 'You ended the session.');
          assert.equal(await page.isDisabled('#chat-input'), true);
          assert.deepEqual(errors, []);
        } finally {
          await viewer?.context.close();
          await renderer?.context.close();
          await srv.stop();
        }
      });
    }
  }

  for (const type of ['websocket', 'http']) {
    test(`${type} public, Unity Receiver-style renderer: answers without media, then offers its tracks`,
      { timeout: 60000 }, async () => {
        const srv = await signal(['-t', type]);
        let renderer; let viewer;
        try {
          // swap=1 also sends candidates with sdpMid and sdpMLineIndex swapped (quirk Q5).
          renderer = await openRenderer(srv, 'receiver=1&swap=1');
          viewer = await openViewer(srv);
          const { page, errors } = viewer;
          await withLogs([renderer, viewer], async () => {
            await waitState(page, 'connected');
            await framesRise(page);
            await audioArrives(page);
            await videoNotBlank(page);
            // The page's own recvonly m-lines were answered inactive; the media came in the renderer's new ones.
            const dirs = await page.evaluate(() => window.__sparc.pc.getTransceivers()
              .map((t) => `${t.receiver.track.kind}:${t.currentDirection}`));
            assert.deepEqual(dirs, ['video:inactive', 'audio:inactive', 'video:recvonly', 'audio:recvonly']);
            await chatRoundTrip(page, 'Can you hear me?');
          });
          assert.deepEqual(errors, []);
        } finally {
          await viewer?.context.close();
          await renderer?.context.close();
          await srv.stop();
        }
      });
  }

  test('two viewers in separate browser contexts each get their own session', { timeout: 60000 }, async () => {
    const srv = await signal(['-t', 'websocket']);
    let renderer; const viewers = [];
    try {
      renderer = await openRenderer(srv);
      viewers.push(await openViewer(srv), await openViewer(srv));
      await withLogs([renderer, ...viewers], async () => {
        await Promise.all(viewers.map((v) => waitState(v.page, 'connected')));
        await Promise.all(viewers.map((v) => framesRise(v.page)));
        const ids = await Promise.all(viewers.map((v) => v.page.textContent('#connection-id')));
        assert.notEqual(ids[0], ids[1]);
        assert.deepEqual((await renderer.page.evaluate(() => [...window.fake.peers.keys()])).sort(), [...ids].sort());
        // Each viewer's chat reaches the renderer on its own connection and comes back only to that viewer.
        await chatRoundTrip(viewers[0].page, 'first viewer');
        await chatRoundTrip(viewers[1].page, 'second viewer');
        assert.equal(await viewers[0].page.locator('.turn', { hasText: 'second viewer' }).count(), 0);
        const received = await renderer.page.evaluate(() => window.fake.received.map((r) => [r.id, r.message.text]));
        assert.deepEqual(received.sort(), [[ids[0], 'first viewer'], [ids[1], 'second viewer']].sort());
      });
      for (const v of viewers) assert.deepEqual(v.errors, []);
    } finally {
      for (const v of viewers) await v.context.close();
      await renderer?.context.close();
      await srv.stop();
    }
  });

  test('no renderer running: the page says none is free, then connects when one arrives', { timeout: 60000 },
    async () => {
      const srv = await signal(['-t', 'websocket']);
      let renderer; let viewer;
      try {
        viewer = await openViewer(srv);
        const { page, errors } = viewer;
        await waitState(page, 'no-renderer', 20000);
        const waited = await page.evaluate(() => {
          const h = window.__sparc.history;
          return h.find((e) => e.state === 'no-renderer').at - h.find((e) => e.state === 'waiting').at;
        });
        assert.ok(waited >= 9900 && waited < 13000, `the page waits 10 s for an answer before giving up (${waited} ms)`);
        assert.equal(await page.textContent('#state-text'), 'No renderer is free right now — try again in a minute');
        assert.equal(await page.isVisible('#connect'), true, 'a "Try again" button is offered');
        await page.screenshot({ path: artifact('desktop-no-renderer.png') });
        // The page keeps resending its offer every 5 s, so a renderer that starts now still picks it up.
        renderer = await openRenderer(srv);
        await withLogs([renderer, viewer], async () => {
          await waitState(page, 'connected', 15000);
          await framesRise(page);
        });
        assert.deepEqual(errors, []);
      } finally {
        await viewer?.context.close();
        await renderer?.context.close();
        await srv.stop();
      }
    });

  test('streamer registry (--streamers): refused at once while no renderer is free, assigned when one joins',
    { timeout: 60000 }, async () => {
      const srv = await signal(['-t', 'websocket', '--streamers']);
      let renderer; const viewers = [];
      try {
        viewers.push(await openViewer(srv));
        const { page } = viewers[0];
        // The server says so straight away: no 10 s wait for an answer that cannot come.
        await waitState(page, 'no-renderer', 3000);
        renderer = await openRenderer(srv, 'streamer=render-0');
        await withLogs([renderer, viewers[0]], async () => {
          // The page asks again every 10 s; the registry then assigns the new renderer.
          await waitState(page, 'connected', 20000);
          await framesRise(page);
          viewers.push(await openViewer(srv));
          await waitState(viewers[1].page, 'no-renderer', 3000);
          assert.equal(await page.getAttribute('#state', 'data-state'), 'connected', 'the first viewer keeps its renderer');
        });
      } finally {
        for (const v of viewers) await v.context.close();
        await renderer?.context.close();
        await srv.stop();
      }
    });

  test('the renderer answers but no media path opens: the page blames ICE and suggests TURN', { timeout: 60000 },
    async () => {
      const srv = await signal(['-t', 'websocket']);
      let renderer; let viewer;
      try {
        renderer = await openRenderer(srv, 'nocand=1');
        viewer = await openViewer(srv);
        const { page } = viewer;
        await withLogs([renderer, viewer], async () => {
          await waitState(page, 'ice-failed', 25000);
          assert.equal(await page.textContent('#state-text'),
            "Could not reach the renderer's media — a TURN server may be needed on this network");
        });
      } finally {
        await viewer?.context.close();
        await renderer?.context.close();
        await srv.stop();
      }
    });

  for (const type of ['websocket', 'http']) {
    test(`${type}: the signaling server is killed and restarted on the same port; the page recovers`,
      { timeout: 90000 }, async () => {
        const port = await freePort();
        const args = ['-t', type, '-p', String(port)];
        let srv = await signal(args, { portFlag: false });
        let renderer; let viewer;
        try {
          renderer = await openRenderer(srv);
          viewer = await openViewer(srv);
          const { page } = viewer;
          await withLogs([renderer, viewer], async () => {
            await waitState(page, 'connected');
            await framesRise(page);
            const before = await page.evaluate(() => window.__sparc.negotiations);
            await srv.kill();  // SIGKILL: no close frames, no goodbyes
            await waitState(page, 'signaling-lost', 10000);
            assert.equal(await page.textContent('#state-text'), 'Connection to the server lost — reconnecting…');
            if (type === 'websocket') await page.screenshot({ path: artifact('desktop-signaling-lost.png') });
            srv = await signal(args, { portFlag: false });
            // Back with back-off (1 s, 2 s, ...), renegotiated on the same connection, video flowing.
            await page.waitForFunction((n) => window.__sparc.negotiations > n, before, { timeout: 30000 });
            await waitState(page, 'connected', 10000);
            await framesRise(page);
            await chatRoundTrip(page, 'still there?');
          });
        } finally {
          await viewer?.context.close();
          await renderer?.context.close();
          await srv.stop();
        }
      });
  }

  test('signaling server and renderer both restart: the page connects to the new renderer', { timeout: 90000 },
    async () => {
      const port = await freePort();
      const args = ['-t', 'websocket', '-p', String(port)];
      let srv = await signal(args, { portFlag: false });
      let renderer; let viewer;
      try {
        renderer = await openRenderer(srv);
        viewer = await openViewer(srv);
        const { page } = viewer;
        await withLogs([renderer, viewer], async () => {
          await waitState(page, 'connected');
          await framesRise(page);
          await srv.kill();
          await renderer.context.close();
          await waitState(page, 'signaling-lost', 10000);
          srv = await signal(args, { portFlag: false });
          renderer = await openRenderer(srv);
          // The renegotiation offer reaches a renderer that never saw this connection; whatever it answers,
          // the page must end up with working media from it.
          await page.waitForFunction(() => window.__sparc.state === 'connected' && window.__sparc.negotiations >= 1,
            null, { timeout: 40000 });
          await framesRise(page);
          await videoNotBlank(page);
          assert.equal(await page.evaluate(() => window.__sparc.video.srcObject.getVideoTracks().length), 1,
            'the video shows only the new connection\'s track');
          await chatRoundTrip(page, 'new renderer?');
        });
      } finally {
        await viewer?.context.close();
        await renderer?.context.close().catch(() => {});
        await srv.stop();
      }
    });

  test('phone-sized viewport: connected session, chat, no sideways scrolling', { timeout: 60000 }, async () => {
    const srv = await signal(['-t', 'websocket']);
    let renderer; let viewer;
    try {
      renderer = await openRenderer(srv);
      viewer = await openViewer(srv, { viewport: PHONE, mobile: true });
      const { page, errors } = viewer;
      await withLogs([renderer, viewer], async () => {
        await waitState(page, 'connected');
        await framesRise(page);
        await chatRoundTrip(page, 'Hi, I am Dr. Lee.');
        await renderer.page.evaluate(() => window.fake.broadcast({ type: 'reply', text: '',
          coach_feedback: 'Listen: explored or restated the parent\'s view.', ui_message: '', warning_count: 0,
          session_terminated: false }));
        await page.locator('#coach-text', { hasText: 'Listen:' }).waitFor({ timeout: 5000 });
        const overflow = await page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px on a phone`);
        const box = await page.locator('#video').boundingBox();
        assert.ok(box.width >= 330 && box.width <= 375, `the video fills the width (${box.width} px)`);
        await page.screenshot({ path: artifact('phone-connected.png'), fullPage: true });
        await page.screenshot({ path: artifact('phone-viewport.png') });
      });
      assert.deepEqual(errors, []);
    } finally {
      await viewer?.context.close();
      await renderer?.context.close();
      await srv.stop();
    }
  });

  test('renderer messages: thinking, caption, status, coach feedback, supervisor warnings, termination; stats overlay',
    { timeout: 60000 }, async () => {
      const srv = await signal(['-t', 'websocket']);
      let renderer; let viewer;
      try {
        renderer = await openRenderer(srv);
        viewer = await openViewer(srv);
        const { page, errors } = viewer;
        const send = (obj) => renderer.page.evaluate((o) => window.fake.broadcast(o), obj);
        await withLogs([renderer, viewer], async () => {
          await waitState(page, 'connected');
          await page.waitForSelector('#chat-fields:not([disabled])', { timeout: 10000 });

          // Stats overlay: the "s" key and the button both toggle it; it fills in within a couple of seconds.
          assert.equal(await page.isVisible('#stats'), false);
          await page.locator('body').press('s');
          await page.waitForSelector('#stats', { state: 'visible', timeout: 2000 });
          assert.equal(await page.getAttribute('#stats-toggle', 'aria-pressed'), 'true');
          await page.waitForFunction(() => /^\d/.test(document.querySelector('#stat-fps').textContent) &&
            /bps$/.test(document.querySelector('#stat-bitrate').textContent) &&
            /ms$/.test(document.querySelector('#stat-rtt').textContent) &&
            /video\//.test(document.querySelector('#stat-codec').textContent), null, { timeout: 5000 });
          assert.match(await page.textContent('#stat-resolution'), /^\d+×\d+$/);
          await page.screenshot({ path: artifact('desktop-stats.png') });
          await page.getByRole('button', { name: 'Stats' }).click();
          await page.waitForSelector('#stats', { state: 'hidden', timeout: 2000 });
          // Typing an "s" in the chat box is text, not a shortcut.
          await page.getByLabel('Your message to the caregiver').press('s');
          assert.equal(await page.isVisible('#stats'), false);
          assert.equal(await page.inputValue('#chat-input'), 's');
          await page.fill('#chat-input', '');

          // Unmute is one click; the button then offers to mute again.
          assert.equal(await page.evaluate(() => window.__sparc.video.muted), true);
          await page.getByRole('button', { name: 'Unmute the caregiver' }).click();
          assert.equal(await page.evaluate(() => window.__sparc.video.muted), false);
          assert.equal(await page.textContent('#unmute'), 'Mute');

          await send({ type: 'thinking' });
          await page.waitForSelector('#thinking', { state: 'visible', timeout: 3000 });
          await send({ type: 'caption', text: 'I guess I am just not sure about it.' });
          await page.locator('#caption', { hasText: 'not sure about it' }).waitFor({ timeout: 3000 });
          await send({ type: 'reply', text: 'I guess I am just not sure about it right now.', coach_feedback: null,
            ui_message: '', warning_count: 0, session_terminated: false });
          await page.locator('.turn--caregiver', { hasText: 'right now' }).waitFor({ timeout: 3000 });
          assert.equal(await page.isVisible('#thinking'), false, 'a reply ends the thinking indicator');
          await send({ type: 'status', level: 'error', message: 'The conversation service is unavailable' });
          await page.getByRole('alert').filter({ hasText: 'The conversation service is unavailable' })
            .waitFor({ timeout: 3000 });
          await send({ type: 'status', level: 'info', message: 'Recording is on' });
          await page.locator('#notice', { hasText: 'Recording is on' }).waitFor({ timeout: 3000 });
          await send({ type: 'something-new', text: 'ignored' });
          await send({ type: 'reply', text: 'Oh, okay.', coach_feedback: 'Listen: explored the parent\'s view.',
            ui_message: '', warning_count: 0, session_terminated: false });
          await page.locator('#coach-text', { hasText: 'explored the parent' }).waitFor({ timeout: 3000 });
          await send({ type: 'reply', text: '', coach_feedback: null, ui_message: 'PROFESSIONAL CONDUCT WARNING 1',
            warning_count: 1, session_terminated: false });
          await page.getByRole('alert').filter({ hasText: 'PROFESSIONAL CONDUCT WARNING 1' }).waitFor({ timeout: 3000 });
          assert.equal(await page.textContent('#warning-count'), 'Conduct warnings this session: 1');
          await page.screenshot({ path: artifact('desktop-warning.png') });
          await send({ type: 'reply', text: '', coach_feedback: null, ui_message: 'SESSION TERMINATED',
            warning_count: 3, session_terminated: true });
          await waitState(page, 'ended', 5000);
          assert.equal(await page.textContent('#state-text'), 'The supervisor ended this session.');
          await page.getByRole('alert').filter({ hasText: 'SESSION TERMINATED' }).waitFor({ timeout: 3000 });
          assert.equal(await page.isDisabled('#chat-input'), true);
          assert.equal(await page.locator('.turn--caregiver').count(), 2, 'empty reply texts add no turn');
          await page.screenshot({ path: artifact('desktop-terminated.png') });

          // "New session" starts over: a new connection id, an empty conversation, video again.
          const oldId = await page.textContent('#connection-id');
          await page.getByRole('button', { name: 'New session' }).click();
          await waitState(page, 'connected');
          assert.notEqual(await page.textContent('#connection-id'), oldId);
          assert.equal(await page.locator('.turn').count(), 0);
          assert.equal(await page.locator('#alerts > *').count(), 0);
          await framesRise(page);
          await chatRoundTrip(page, 'Starting again');
        });
        assert.deepEqual(errors, []);
      } finally {
        await viewer?.context.close();
        await renderer?.context.close();
        await srv.stop();
      }
    });

  test('private mode without ?id= asks for a session code', { timeout: 30000 }, async () => {
    const srv = await signal(['-t', 'websocket', '-m', 'private']);
    let viewer;
    try {
      viewer = await openViewer(srv);
      const { page, errors } = viewer;
      await waitState(page, 'error', 5000);
      assert.match(await page.textContent('#state-text'), /private session/);
      await page.screenshot({ path: artifact('desktop-private-prompt.png') });
      await page.getByLabel('Session code').fill('room-42');
      await page.getByRole('button', { name: 'Join' }).click();
      await page.waitForURL(/\?id=room-42$/, { timeout: 5000 });
      await waitState(page, 'waiting', 5000);
      assert.equal(await page.textContent('#connection-id'), 'room-42');
      assert.equal(await page.textContent('#role'), 'impolite', 'the first owner of a private id is impolite');
      assert.deepEqual(errors, []);
    } finally {
      await viewer?.context.close();
      await srv.stop();
    }
  });

  test('shows the ICE servers from /config', { timeout: 30000 }, async () => {
    const srv = await signal(['--ice-server', 'stun:stun.example.org:3478']);
    let viewer;
    try {
      viewer = await openViewer(srv);
      await viewer.page.waitForFunction(() => document.querySelector('#ice').textContent.includes('stun:'), null,
        { timeout: 10000 });
      assert.equal(await viewer.page.textContent('#ice'), 'stun:stun.example.org:3478');
      // The page shows /config as soon as it has it; the peer connection follows the server's connect ack.
      await viewer.page.waitForFunction(() => window.__sparc.pc !== null, null, { timeout: 10000 });
      const servers = await viewer.page.evaluate(() => window.__sparc.pc?.getConfiguration().iceServers ?? null);
      assert.deepEqual(servers?.map((s) => s.urls).flat(), ['stun:stun.example.org:3478']);
    } finally {
      await viewer?.context.close();
      await srv.stop();
    }
  });
});

// Keep a record of where the pictures are, for people reading CI logs.
after(() => {
  writeFileSync(artifact('README.txt'), 'Screenshots written by tests/e2e/web_client.test.mjs.\n');
});
