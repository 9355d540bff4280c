// loop.test.ts - the capture loop with a real client and a scripted server on a real socket: it
// never exceeds the in-flight cap, and it lowers its frame rate when results come slower than
// frames are captured (and keeps full settings when they do not).
import { afterEach, describe, expect, it } from 'vitest';
import { FramewireClient } from '../src/lib/client';
import { CaptureLoop } from '../src/lib/loop';
import { fakeJpeg, nodeSockets, scriptedServer, until, type Scripted } from './helpers';

let server: Scripted | null = null;
let client: FramewireClient | null = null;
let loop: CaptureLoop | null = null;
afterEach(async () => {
  loop?.stop();
  client?.close();
  await server?.close();
});

/** A server that answers each frame `delayMs` after it arrived, one frame at a time (like a
 * model that takes delayMs), and records the most frames it ever had unanswered. */
async function slowServer(delayMs: number, maxInflight: number) {
  const stats = { maxUnanswered: 0, received: 0 };
  let busyUntil = 0;
  let unanswered = 0;
  server = await scriptedServer({
    onConn: (c) => c.hello({ max_inflight: maxInflight }),
    onFrame: (c, f) => {
      stats.received++;
      unanswered++;
      stats.maxUnanswered = Math.max(stats.maxUnanswered, unanswered);
      const start = Math.max(Date.now(), busyUntil);
      busyUntil = start + delayMs;
      setTimeout(() => {
        unanswered--;
        c.result(f.frameId);
      }, busyUntil - Date.now());
    },
  });
  return stats;
}

function run(url: string, maxFps: number, windowMs: number) {
  client = new FramewireClient({ url, webSocket: nodeSockets, maxInflight: 4 });
  client.connect();
  loop = new CaptureLoop(client, {
    sourceReady: () => true,
    encode: async () => fakeJpeg(2000).buffer as ArrayBuffer,
    limits: { maxFps, maxQuality: 0.8, targetLatencyMs: 10_000 },
    windowMs,
  });
  loop.start();
  return loop;
}

describe('CaptureLoop', () => {
  it('lowers its frame rate to what the server answers, within the in-flight cap, and says so', async () => {
    const stats = await slowServer(50, 2); // 20 results/s at most
    const l = run(server!.url, 60, 300);
    await until(() => l.state.adapted && l.state.fps <= 25, 'frame rate lowered', 8000);
    expect(l.state.reason).toMatch(/results .*\/s < capture 60\/s.*frame rate 60 → \d+/);
    expect(stats.maxUnanswered).toBeLessThanOrEqual(2); // the server's max_inflight
    expect(client!.getSnapshot().counts.results).toBeGreaterThan(5);
  });

  it('keeps full settings when the server keeps up', async () => {
    await slowServer(1, 4);
    const l = run(server!.url, 20, 200);
    await until(() => client!.getSnapshot().counts.results >= 20, '20 results', 8000);
    expect(l.state).toMatchObject({ fps: 20, quality: 0.8, scale: 1, adapted: false });
  });
});
