// adapt.test.ts - the rate controller: what it lowers, in which order, and how it recovers.
import { describe, expect, it } from 'vitest';
import { RateController, type WindowSample } from '../src/lib/adapt';

const calm: WindowSample = { ticks: 30, busy: 0, answers: 30, dropped: 0, resultFps: 30, latencyP50Ms: 20 };
const slowServer = (resultFps: number): WindowSample => ({ ticks: 30, busy: 30 - resultFps, answers: resultFps, dropped: 0, resultFps, latencyP50Ms: 80 });

describe('RateController', () => {
  it('keeps the user\'s settings while the server keeps up', () => {
    const c = new RateController({ maxFps: 30, maxQuality: 0.8 });
    for (let i = 0; i < 10; i++) c.update(calm);
    expect(c.state).toMatchObject({ fps: 30, quality: 0.8, scale: 1, adapted: false, changes: 0 });
  });

  it('results slower than capture: frame rate goes down to about the result rate, and says so', () => {
    const c = new RateController({ maxFps: 30, maxQuality: 0.8 });
    const s = c.update(slowServer(10));
    expect(s.fps).toBe(9); // 0.9 × 10 results/s
    expect(s.adapted).toBe(true);
    expect(s.reason).toMatch(/results 10.0\/s < capture 30\/s.*frame rate 30 → 9/);
  });

  it('then JPEG quality, then resolution, never below the floors', () => {
    const c = new RateController({ maxFps: 10, maxQuality: 0.8, minFps: 2, minQuality: 0.5, scales: [1, 0.5] });
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) {
      const s = c.update({ ticks: 10, busy: 9, answers: 1, dropped: 0, resultFps: 1, latencyP50Ms: 900 });
      seen.push(`${s.fps}/${s.quality.toFixed(2)}/${s.scale}`);
    }
    expect(seen.slice(0, 6)).toEqual(['2/0.80/1', '2/0.70/1', '2/0.60/1', '2/0.50/1', '2/0.50/0.5', '2/0.50/0.5']);
    expect(c.state).toMatchObject({ fps: 2, quality: 0.5, scale: 0.5, adapted: true });
  });

  it('latency too high with enough throughput: cheaper frames first', () => {
    const c = new RateController({ maxFps: 30, maxQuality: 0.8, targetLatencyMs: 100 });
    const s = c.update({ ...calm, latencyP50Ms: 300 });
    expect(s).toMatchObject({ fps: 30, quality: 0.7, scale: 1, adapted: true });
    expect(s.reason).toMatch(/latency 300 ms > 100 ms: JPEG quality 0.80 → 0.70/);
  });

  it('server drops count only past 5% of answers', () => {
    const c = new RateController({ maxFps: 30, maxQuality: 0.8 });
    expect(c.update({ ...calm, dropped: 1 }).adapted).toBe(false);
    const s = c.update({ ...calm, dropped: 6, resultFps: 24 });
    expect(s.adapted).toBe(true);
    expect(s.reason).toMatch(/server dropped 6 of 30 frames/);
  });

  it('recovers in reverse order after calm windows, up to the ceilings and no further', () => {
    const c = new RateController({ maxFps: 30, maxQuality: 0.8, calmWindows: 2, scales: [1, 0.5] });
    for (let i = 0; i < 12; i++) c.update({ ticks: 30, busy: 29, answers: 1, dropped: 0, resultFps: 1, latencyP50Ms: 900 });
    expect(c.state).toMatchObject({ fps: 2, scale: 0.5 });
    const order: string[] = [];
    for (let i = 0; i < 60; i++) {
      const before = c.state;
      const s = c.update(calm);
      if (s.scale !== before.scale) order.push('scale');
      else if (s.quality !== before.quality) order.push('quality');
      else if (s.fps !== before.fps) order.push('fps');
    }
    expect(order[0]).toBe('scale');
    expect(order.indexOf('fps')).toBeGreaterThan(order.lastIndexOf('quality'));
    expect(c.state).toMatchObject({ fps: 30, quality: 0.8, scale: 1, adapted: false });
    expect(c.state.reason).toMatch(/keeping up again/);
  });

  it('an idle window (no source) changes nothing; new ceilings reset', () => {
    const c = new RateController({ maxFps: 30, maxQuality: 0.8 });
    c.update(slowServer(10));
    expect(c.update({ ticks: 0, busy: 0, answers: 0, dropped: 0, resultFps: 0, latencyP50Ms: null }).fps).toBe(9);
    c.setLimits(15, 0.6);
    expect(c.state).toMatchObject({ fps: 15, quality: 0.6, scale: 1, adapted: false });
  });
});
