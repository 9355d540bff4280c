// math.test.ts - clock sync, latency split, backoff and the rolling meters.
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/lib/backoff';
import { ClockSync, clockSample } from '../src/lib/clock';
import { splitLatency } from '../src/lib/latency';
import { percentile, RateMeter, WindowPercentiles } from '../src/lib/meter';
import type { ResultMessage } from '../src/lib/protocol';

describe('clock sync', () => {
  it('recovers a known offset from a symmetric exchange', () => {
    // server is 5 s ahead; 1 ms each way; server holds the ping 0.2 ms
    const off = 5_000_000;
    const t1 = 1_000_000;
    const t2 = t1 + 1000 + off;
    const t3 = t2 + 200;
    const t4 = t3 - off + 1000;
    expect(clockSample(t1, t2, t3, t4)).toEqual({ offsetUs: off, rttUs: 2000 });
  });
  it('trusts the sample with the smallest round trip, keeps a bounded history, drops nonsense', () => {
    const c = new ClockSync(3);
    expect(c.best()).toBeNull();
    c.add(0, 100 + 5000, 100 + 5000, 9000); // rtt 9000, asymmetric: offset estimate off
    c.add(0, 500 + 1000, 500 + 1000, 1000); // rtt 1000, offset 1000
    c.add(0, 300, 300, 8000);
    expect(c.best()).toEqual({ offsetUs: 1000, rttUs: 1000 });
    c.add(10, 20, 30, 5); // t4 before t1: negative rtt, dropped
    expect(c.count).toBe(3);
    c.add(0, 2000, 2000, 4000);
    c.add(0, 2000, 2000, 4000);
    c.add(0, 2000, 2000, 4000); // pushes the rtt-1000 sample out
    expect(c.best()).toEqual({ offsetUs: 0, rttUs: 4000 });
  });
});

describe('latency split', () => {
  const r = (rx?: number, tx?: number): ResultMessage => ({
    type: 'result',
    frame_id: 1,
    capture_ts_us: 0,
    top: [],
    timing_us: { queue: 100, decode: 900, preprocess: 100, wait: 50, infer: 600, total: 1750 },
    batch: 1,
    server_rx_ts_us: rx,
    server_tx_ts_us: tx,
  });
  it('splits capture → receive into encode, uplink, server, downlink with the clock offset', () => {
    // client: captured at 0, sent at 8 ms, received at 20 ms; server clock = client + 1 s
    const s = splitLatency(r(1_000_000 + 10_000, 1_000_000 + 12_000), { captureUs: 0, sentUs: 8_000, receivedUs: 20_000 }, 1_000_000);
    expect(s.encodeMs).toBe(8);
    expect(s.uplinkMs).toBe(2);
    expect(s.serverMs).toBe(2);
    expect(s.downlinkMs).toBe(8);
    expect(s.totalMs).toBe(20);
    expect(s.encodeMs + s.uplinkMs! + s.serverMs + s.downlinkMs!).toBe(s.totalMs);
    expect(s.stages).toEqual({ queue: 0.1, decode: 0.9, preprocess: 0.1, wait: 0.05, infer: 0.6 });
  });
  it('leaves uplink and downlink unknown without clock sync or server timestamps', () => {
    const t = { captureUs: 0, sentUs: 1000, receivedUs: 9000 };
    for (const s of [splitLatency(r(5, 6), t, null), splitLatency(r(), t, 123)]) {
      expect(s.uplinkMs).toBeNull();
      expect(s.downlinkMs).toBeNull();
      expect(s.serverMs).toBe(1.75); // timing_us.total
      expect(s.totalMs).toBe(9);
    }
  });
});

describe('backoff', () => {
  it('doubles from the base up to the cap', () => {
    const d = (n: number) => backoffDelay(n, { baseMs: 100, maxMs: 1000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6, 50].map(d)).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });
  it('jitter stays within [raw*(1-j), raw]', () => {
    expect(backoffDelay(3, { baseMs: 100, jitter: 0.5 }, () => 0)).toBe(200);
    expect(backoffDelay(3, { baseMs: 100, jitter: 0.5 }, () => 1)).toBe(400);
    for (let i = 0; i < 100; i++) {
      const v = backoffDelay(2, { baseMs: 100, jitter: 0.5 });
      expect(v).toBeGreaterThanOrEqual(100);
      expect(v).toBeLessThanOrEqual(200);
    }
  });
});

describe('meters', () => {
  it('rate over the window', () => {
    const m = new RateMeter(1000);
    for (let t = 0; t < 1000; t += 50) m.add(t); // 20 events in 1 s
    expect(m.rate(1000)).toBeCloseTo(20, 0);
    expect(m.rate(5000)).toBe(0); // all aged out
  });
  it('percentiles are nearest-rank and windowed', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], 99)).toBe(100);
    const w = new WindowPercentiles(100);
    w.add(0, 1000);
    w.add(150, 1);
    w.add(160, 2);
    expect(w.percentile(170, 99)).toBe(2);
  });
});
