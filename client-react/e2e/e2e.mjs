// e2e.mjs - framewire's browser end-to-end test. The real framewire binary serves the built demo
// app with a real model; Debian's headless Chromium (driven by playwright-core) opens it with a
// fake camera that plays a Y4M made from a real photo. Checks:
//   1. camera: the page's top-1 label is the label framewire gives in-process (fw_classify_cli)
//      for that picture; the picture the page shows is the photo (mean colour, not green frames);
//      fps, the latency split and the server's stats are shown; screenshot.
//   2. video file: the user picks a WebM of another photo; the page switches to its label; screenshot.
//   3. REST upload: the original JPEG through POST /v1/classify gives the in-process result;
//      a broken file gives a readable error.
//   4. adaptation: with an unreachable latency target the client lowers its settings and says so.
//   5. reconnect: framewire restarts on the same port; the page reconnects and classifies again.
//   6. embedding: examples/embed, a separate Vite + React app that imports @framewire/react the
//      way `npm install path/to/client-react` lays it out, type-checks, builds, and classifies.
//
// node e2e/e2e.mjs --server BIN --cli FW_CLASSIFY_CLI --manifest M.json --photos DIR --dist DIR
//                  --work DIR --artifacts DIR [--old-server 1]
// --old-server 1 skips the checks of the realtime protocol additions (stats, clock sync).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import {
  Check,
  colourDistance,
  execFileP,
  ffmpeg,
  log,
  meanColour,
  mkdirp,
  parseArgs,
  rmrf,
  startServer,
  stopServer,
  waitFor,
} from './util.mjs';

const args = parseArgs(process.argv.slice(2), ['server', 'cli', 'manifest', 'photos', 'dist', 'work', 'artifacts']);
const oldServer = args['old-server'] === '1';
const PHOTOS = ['dog', 'eagle', 'giraffe', 'horses', 'kite', 'person', 'scream'];
const MIN_MARGIN = 0.15; // top-1 minus top-2 in-process: re-encoding must not be able to flip it
const COLOUR_TOL = 24; // max per-channel difference of mean colours (0..255)
const CHROMIUM = process.env.FW_CHROMIUM || '/usr/bin/chromium';

const CLIENT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const check = new Check();
const work = args.work;
rmrf(work);
mkdirp(work);
// Chromium puts its singleton socket in $TMPDIR, and a Unix socket path must fit in 108 bytes:
// inside a deep checkout (CI clones to /check/work/...) the work folder is too long for that.
// So the temporary folder is a short one under /tmp, removed at exit.
const tmp = fs.mkdtempSync('/tmp/fw-e2e-');
process.env.TMPDIR = tmp;
process.on('exit', () => rmrf(tmp));
mkdirp(args.artifacts);
const serverLog = path.join(work, 'framewire.log');

async function classifyInProcess(files) {
  const { stdout } = await execFileP(args.cli, [args.manifest, ...files], { maxBuffer: 16 << 20 });
  return stdout.trim().split('\n').map((l) => JSON.parse(l));
}

// ---- 1. Pictures: the frames the camera will deliver, their in-process labels, and choices ----
// The fake camera shows the photo scaled to 640x480; the reference is that frame as a JPEG.
const frames = {};
for (const p of PHOTOS) {
  const src = path.join(args.photos, `${p}.jpg`);
  const ref = path.join(work, `${p}-640x480.jpg`);
  await ffmpeg(['-i', src, '-vf', 'scale=640:480', '-q:v', '2', ref]);
  frames[p] = { src, ref };
}
const refs = await classifyInProcess(PHOTOS.map((p) => frames[p].ref));
for (const [i, p] of PHOTOS.entries()) {
  const t = refs[i].top;
  frames[p].label = t[0].label;
  frames[p].margin = t[0].prob - (t[1]?.prob ?? 0);
  log(`in-process ${p}: ${t[0].label} ${t[0].prob.toFixed(3)}, next ${t[1]?.label} ${t[1]?.prob.toFixed(3)}`);
}
const clear = PHOTOS.filter((p) => frames[p].margin >= MIN_MARGIN).sort((a, b) => frames[b].margin - frames[a].margin);
if (clear.length < 2) throw new Error(`fewer than two photos with a top-1 margin >= ${MIN_MARGIN} for this model`);
const camPhoto = clear[0];
const filePhoto = clear.find((p) => frames[p].label !== frames[camPhoto].label) ?? clear[1];
log(`camera photo: ${camPhoto} (${frames[camPhoto].label}); video-file photo: ${filePhoto} (${frames[filePhoto].label})`);

// Y4M 4:2:0 for the fake camera (other layouts give green frames), WebM (VP8) for the file input.
const camFile = path.join(work, `camera-${camPhoto}.y4m`);
await ffmpeg(['-loop', '1', '-i', frames[camPhoto].src, '-t', '2', '-r', '15', '-vf', 'scale=640:480', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', camFile]);
const videoFile = path.join(work, `video-${filePhoto}.webm`);
await ffmpeg(['-loop', '1', '-i', frames[filePhoto].src, '-t', '2', '-r', '15', '-vf', 'scale=640:480', '-c:v', 'libvpx', '-b:v', '2M', '-pix_fmt', 'yuv420p', videoFile]);
const camColour = await meanColour(camFile);
const fileColour = await meanColour(videoFile);

// ---- server and browser ----
const serverArgs = (port) => ['--model', args.manifest, '--port', String(port), '--static-dir', args.dist];
let server = await startServer(args.server, serverArgs(0), serverLog);
log(`framewire at ${server.url}`);
const context = await chromium.launchPersistentContext(mkdirp(path.join(work, 'profile')), {
  headless: true,
  executablePath: CHROMIUM,
  viewport: { width: 1280, height: 860 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${camFile}`,
    '--autoplay-policy=no-user-gesture-required',
  ],
});
const consoleLines = [];
context.on('page', (p) => p.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`)));

// Reads the overlay: top-k labels and the frame id they belong to.
async function overlay(page) {
  return page.evaluate(() => {
    const o = document.querySelector('[data-testid=fw-overlay]');
    const labels = [...document.querySelectorAll('[data-testid=fw-overlay] [data-testid=fw-label]')].map((e) => ({
      label: e.dataset.label,
      prob: Number(e.dataset.prob),
    }));
    return { frameId: Number(o?.dataset.frameId || 0), labels };
  });
}
const text = (page, id) => page.locator(`[data-testid=${id}]`).first().innerText();

// Mean colour of what the <video> shows (drawn to a small canvas in the page).
async function videoColour(page) {
  return page.evaluate(() => {
    const v = document.querySelector('[data-testid=fw-video]');
    const c = document.createElement('canvas');
    c.width = 64;
    c.height = 48;
    const ctx = c.getContext('2d');
    ctx.drawImage(v, 0, 0, 64, 48);
    const d = ctx.getImageData(0, 0, 64, 48).data;
    const s = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) s[k] += d[i + k];
    return s.map((x) => Math.round(x / (d.length / 4)));
  });
}

/** Waits until `n` results in a row (distinct frame ids) have top-1 `want`; returns what was seen. */
async function waitForLabel(page, want, n = 8, timeoutMs = 30000) {
  const seen = new Map();
  let streak = 0;
  let lastId = -1;
  const ok = await waitFor(
    async () => {
      const o = await overlay(page);
      if (!o.labels.length || o.frameId === lastId) return false;
      lastId = o.frameId;
      const got = o.labels[0].label;
      seen.set(got, (seen.get(got) ?? 0) + 1);
      streak = got === want ? streak + 1 : 0;
      return streak >= n;
    },
    { timeoutMs, everyMs: 60 },
  );
  return { ok: !!ok, seen: [...seen.entries()].map(([k, v]) => `${k}×${v}`).join(', ') };
}

/** Uploads the file photo's original JPEG (the same bytes as in-process) and a broken JPEG. */
async function restUpload(page) {
  const [restRef] = await classifyInProcess([frames[filePhoto].src]);
  await page.locator('[data-testid=upload-input]').setInputFiles(frames[filePhoto].src);
  const upl = await waitFor(async () => (await page.locator('[data-testid=upload-label], [data-testid=upload-error]').count()) > 0);
  if (upl && (await page.locator('[data-testid=upload-label]').count())) {
    const got = await page.$$eval('[data-testid=upload-label]', (els) => els.map((e) => ({ label: e.dataset.label, prob: Number(e.dataset.prob) })));
    const want = restRef.top[0];
    // The same bytes go through the same decoder and model: the same probability, to rounding.
    check.ok(
      got[0].label === want.label && Math.abs(got[0].prob - want.prob) < 1e-4,
      `upload: POST /v1/classify gives ${want.label} ${want.prob.toFixed(4)} for ${filePhoto}.jpg as in-process`,
      got.map((g) => `${g.label} ${g.prob}`).join(', '),
    );
  } else {
    check.ok(false, 'upload: POST /v1/classify gives a result', upl ? await text(page, 'upload-error') : 'nothing shown');
  }
  const broken = path.join(work, 'broken.jpg');
  fs.writeFileSync(broken, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('not really a jpeg')]));
  await page.locator('[data-testid=upload-input]').setInputFiles(broken);
  const err = await waitFor(async () => (await page.locator('[data-testid=upload-error]').count()) && (await text(page, 'upload-error')));
  check.ok(!!err && /could not use this image/.test(err), 'upload: a broken JPEG gives a readable 400 error', err || 'no error shown');
}

/** Lays out examples/embed as npm would after `npm install path/to/client-react` (symlinks to
 * this package and to the shared React and Vite), type-checks and builds it, and serves it with a
 * second framewire: the embedded component must classify the camera picture. */
async function embedding() {
  const app = path.join(work, 'embed');
  fs.cpSync(path.join(CLIENT_DIR, 'examples', 'embed'), app, { recursive: true, filter: (p) => !p.includes('node_modules') && !p.includes('dist') });
  const nm = mkdirp(path.join(app, 'node_modules'));
  mkdirp(path.join(nm, '@framewire'));
  mkdirp(path.join(nm, '@types'));
  mkdirp(path.join(nm, '@vitejs'));
  fs.symlinkSync(CLIENT_DIR, path.join(nm, '@framewire', 'react'));
  for (const dep of ['react', 'react-dom', 'vite', '@vitejs/plugin-react', '@types/react', '@types/react-dom'])
    fs.symlinkSync(path.join(CLIENT_DIR, 'node_modules', dep), path.join(nm, dep));
  const node = process.execPath;
  try {
    await execFileP(node, [path.join(CLIENT_DIR, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app });
    check.ok(true, 'embedding: the app type-checks against @framewire/react\'s published types');
  } catch (e) {
    check.ok(false, 'embedding: the app type-checks against @framewire/react\'s published types', `${e.stdout}${e.stderr}`.trim());
  }
  await execFileP(node, [path.join(CLIENT_DIR, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: app });
  const srv = await startServer(args.server, ['--model', args.manifest, '--port', '0', '--static-dir', path.join(app, 'dist')], serverLog);
  try {
    const page = await context.newPage();
    await page.goto(srv.url);
    const want = frames[camPhoto].label;
    const got = await waitFor(async () => {
      const t = await page.locator('[data-testid=embed-last]').innerText();
      return t.startsWith(`${want} (frame `) && t;
    });
    check.ok(!!got, `embedding: the embedded component shows "${want}" and calls onResult`, got || (await page.locator('[data-testid=embed-last]').innerText()));
    await page.close();
  } finally {
    await stopServer(srv.proc);
  }
}

let failedHard = null;
try {
  const page = await context.newPage();
  // ---- 1. camera ----
  await page.goto(`${server.url}?topk=3`);
  const ready = await waitFor(async () => (await page.locator('[data-testid=fw-connection]').getAttribute('data-state')) === 'ready');
  check.ok(ready, 'page connects to framewire', await text(page, 'fw-connection'));
  const cam = await waitForLabel(page, frames[camPhoto].label);
  check.ok(cam.ok, `camera: page shows "${frames[camPhoto].label}", framewire's in-process label for ${camPhoto}`, `page showed ${cam.seen}`);
  const vc = await videoColour(page);
  check.ok(colourDistance(vc, camColour) <= COLOUR_TOL, 'camera: the page shows the photo (mean colour), not green frames', `page ${vc}, file ${camColour}`);
  const o = await overlay(page);
  check.ok(o.labels.length === 3, 'camera: top-3 labels with scores', o.labels.map((l) => `${l.label} ${l.prob}`).join(', '));
  // Numbers: wait one refresh so the rates cover a full window.
  await page.waitForTimeout(2200);
  const fps = await text(page, 'fw-fps');
  check.ok(/^\d+(\.\d)? fps$/.test(fps) && parseFloat(fps) > 0, 'camera: fps shown', fps);
  const lat = await text(page, 'fw-latency');
  check.ok(/^\d+(\.\d)? ms$/.test(lat), 'camera: latency shown', lat);
  for (const id of ['fw-lat-encode', 'fw-lat-server', 'fw-lat-total', 'fw-client-latency'])
    check.ok(/\d+(\.\d)? ms/.test(await text(page, id)), `camera: ${id} in ms`, await text(page, id));
  const stages = await text(page, 'fw-lat-stages');
  check.ok(/^[\d.]+ ms \/ [\d.]+ ms \/ [\d.]+ ms$/.test(stages), 'camera: server stages queue/decode/preprocess', stages);
  const inflight = await text(page, 'fw-inflight');
  const [nIn, nMax] = inflight.split('/').map((x) => parseInt(x, 10));
  check.ok(nIn <= nMax && nMax >= 1, 'camera: frames in flight within the server\'s limit', inflight);
  if (!oldServer) {
    for (const id of ['fw-lat-uplink', 'fw-lat-downlink'])
      check.ok(/^-?\d+(\.\d)? ms$/.test(await text(page, id)), `camera: ${id} from clock sync`, await text(page, id));
    const sfps = await text(page, 'fw-server-fps');
    check.ok(/^\d+\.\d \/ \d+\.\d$/.test(sfps) && parseFloat(sfps) > 0, 'camera: server stats fps in/out', sfps);
    check.ok(/ms \/ .* ms/.test(await text(page, 'fw-server-latency')), 'camera: server stats p50/p99', await text(page, 'fw-server-latency'));
    check.ok(/superseded/.test(await text(page, 'fw-server-drops')), 'camera: server stats drops', await text(page, 'fw-server-drops'));
  }
  const measured = [];
  for (const id of ['fw-client-fps', 'fw-client-latency', 'fw-lat-encode', 'fw-lat-uplink', 'fw-lat-server', 'fw-lat-downlink', 'fw-server-latency'])
    measured.push(`${id.replace('fw-', '')}=${await text(page, id)}`);
  log(`measured (640x480, JPEG q0.8, one page): ${measured.join('; ')}`);
  await page.screenshot({ path: path.join(args.artifacts, 'demo-camera.png') });
  log(`screenshot ${path.join(args.artifacts, 'demo-camera.png')}`);

  // ---- 2. video file source ----
  await page.locator('[data-testid=fw-source-kind]').selectOption('file');
  await page.locator('[data-testid=fw-video-file]').setInputFiles(videoFile);
  const fil = await waitForLabel(page, frames[filePhoto].label);
  check.ok(fil.ok, `video file: page shows "${frames[filePhoto].label}", framewire's in-process label for ${filePhoto}`, `page showed ${fil.seen}`);
  const fc = await videoColour(page);
  check.ok(colourDistance(fc, fileColour) <= COLOUR_TOL, 'video file: the page plays the file (mean colour)', `page ${fc}, file ${fileColour}`);
  check.ok((await text(page, 'fw-source')).includes(path.basename(videoFile)), 'video file: source shown', await text(page, 'fw-source'));
  await page.screenshot({ path: path.join(args.artifacts, 'demo-video-file.png') });

  // ---- 3. REST upload of the original JPEG, and of a broken one ----
  if (!oldServer) await restUpload(page);
  await page.close();

  // ---- 4. adaptation: an unreachable latency target makes the client lower its settings ----
  const page2 = await context.newPage();
  await page2.goto(`${server.url}?latency=0.01&fps=30`);
  const adapted = await waitFor(async () => (await page2.locator('[data-testid=fw-adapted]').count()) > 0, { timeoutMs: 20000 });
  const reason = await text(page2, 'fw-adapt-reason');
  // Latency-bound makes frames cheaper first; on a busy machine results may also lag the capture
  // rate, and then the frame rate goes first. Either way a setting is below what was asked.
  check.ok(
    adapted && /(latency [\d.]+ ms > 0.01 ms|results [\d.]+\/s < capture [\d.]+\/s \(\d+% of frames waited\)|server dropped \d+ of \d+ frames): /.test(reason),
    'adaptation: the page lowers its settings and says why',
    reason,
  );
  const now = { fps: parseFloat(await text(page2, 'fw-adapt-fps')), q: parseFloat(await text(page2, 'fw-adapt-quality')), scale: parseFloat(await text(page2, 'fw-adapt-scale')) };
  check.ok(now.fps < 30 || now.q < 0.8 || now.scale < 100, 'adaptation: frame rate, quality or resolution below the request', JSON.stringify(now));
  await page2.screenshot({ path: path.join(args.artifacts, 'demo-adapted.png') });

  // ---- 5. reconnect: the server goes away and comes back on the same port ----
  const port = server.port;
  await stopServer(server.proc);
  const down = await waitFor(async () => (await page2.locator('[data-testid=fw-connection]').getAttribute('data-state')) === 'reconnecting');
  check.ok(down, 'reconnect: the page notices the server is gone', await text(page2, 'fw-connection'));
  server = await startServer(args.server, serverArgs(port), serverLog);
  const before = (await overlay(page2)).frameId;
  const back = await waitFor(
    async () => (await page2.locator('[data-testid=fw-connection]').getAttribute('data-state')) === 'ready' && (await overlay(page2)).frameId > before,
    { timeoutMs: 30000 },
  );
  check.ok(back, 'reconnect: the page reconnects with backoff and gets results again', await text(page2, 'fw-connection'));
  await page2.close();

  // ---- 6. embedding in another Vite + React app ----
  await embedding();
} catch (e) {
  failedHard = e;
} finally {
  await context.close().catch(() => undefined);
  const code = await stopServer(server.proc);
  check.ok(code === 0, 'framewire exits cleanly on SIGTERM', `exit ${code}`);
}
if (failedHard) {
  log(`ERROR ${failedHard.stack || failedHard}`);
  check.failed++;
}
if (check.failed) {
  log(`browser console (last 30 lines):\n${consoleLines.slice(-30).join('\n')}`);
  log(`framewire log: ${serverLog}`);
}
console.log(`${check.passed} passed, ${check.failed} failed`);
process.exit(check.failed ? 1 : 0);
