// util.mjs - helpers of the browser end-to-end test: child processes, the framewire server,
// ffmpeg-made fake camera and video files, mean colours of pictures, polling.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';

export const execFileP = promisify(execFile);

export function log(...a) {
  console.log('[e2e]', ...a);
}

export class Check {
  constructor() {
    this.passed = 0;
    this.failed = 0;
  }
  ok(cond, what, detail = '') {
    if (cond) {
      this.passed++;
      log(`ok   ${what}${detail ? ` (${detail})` : ''}`);
    } else {
      this.failed++;
      log(`FAIL ${what}${detail ? ` (${detail})` : ''}`);
    }
    return cond;
  }
}

/** Polls fn() every `everyMs` until it returns a truthy value or `timeoutMs` passes. Returns the
 * last value (falsy on timeout). */
export async function waitFor(fn, { timeoutMs = 15000, everyMs = 100 } = {}) {
  const end = Date.now() + timeoutMs;
  let v;
  for (;;) {
    v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs ffmpeg quietly; throws with its stderr on failure. */
export async function ffmpeg(args) {
  try {
    await execFileP('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { maxBuffer: 64 << 20 });
  } catch (e) {
    throw new Error(`ffmpeg ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** Mean R, G, B (0..255) of an image or video's first frame, by ffmpeg scaling it to 1x1 with
 * area averaging. */
export async function meanColour(file) {
  const { stdout } = await execFileP(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-i', file, '-frames:v', '1', '-vf', 'scale=1:1:flags=area', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { encoding: 'buffer', maxBuffer: 1 << 20 },
  );
  if (stdout.length < 3) throw new Error(`ffmpeg gave no pixel for ${file}`);
  return [stdout[0], stdout[1], stdout[2]];
}

export function colourDistance(a, b) {
  return Math.max(...a.map((x, i) => Math.abs(x - b[i])));
}

/** Starts framewire on a free port (or `port`); resolves with {proc, url, port} once it prints
 * its "listening on" line. Its output goes to `logFile`. */
export function startServer(bin, args, logFile) {
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(logFile, { flags: 'a' });
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`framewire did not print "listening on" within 60 s; see ${logFile}`));
    }, 60000);
    proc.stdout.on('data', (d) => {
      out.write(d);
      buf += d.toString();
      const m = buf.match(/listening on (http:\/\/[^\s]+?:(\d+)\/)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1], port: Number(m[2]) });
      }
    });
    proc.stderr.on('data', (d) => out.write(d));
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`framewire exited (${code ?? sig}) before listening; see ${logFile}`));
    });
  });
}

/** SIGTERM, then waits for the exit (SIGKILL after 10 s). Resolves with the exit code. */
export function stopServer(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    proc.removeAllListeners('exit');
    proc.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
    proc.kill('SIGTERM');
  });
}

export function rmrf(p) {
  fs.rmSync(p, { recursive: true, force: true });
}

export function mkdirp(p) {
  fs.mkdirSync(p, { recursive: true });
  return p;
}

export function parseArgs(argv, required) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const k = a.slice(2);
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) o[k] = '1';
    else {
      o[k] = v;
      i++;
    }
  }
  for (const k of required) if (!o[k]) throw new Error(`missing --${k}`);
  for (const k of Object.keys(o)) if (typeof o[k] === 'string' && /(dir|server|manifest|cli|photos|dist|work|artifacts)$/.test(k)) o[k] = path.resolve(o[k]);
  return o;
}
