// meter.ts - rolling rates and percentiles over a time window, for the numbers the client
// measures itself (frames sent per second, results per second, latency p50/p99). Pure; time is
// passed in (ms, any monotonic clock).

export class RateMeter {
  private times: number[] = [];
  constructor(private readonly windowMs = 2000) {}
  add(nowMs: number): void {
    this.times.push(nowMs);
    this.trim(nowMs);
  }
  /** events per second over the window ending at nowMs (0 when empty) */
  rate(nowMs: number): number {
    this.trim(nowMs);
    if (this.times.length === 0) return 0;
    const span = Math.max(nowMs - this.times[0], this.windowMs / 4);
    return (this.times.length * 1000) / Math.min(this.windowMs, Math.max(span, 1));
  }
  count(nowMs: number): number {
    this.trim(nowMs);
    return this.times.length;
  }
  reset(): void {
    this.times = [];
  }
  private trim(nowMs: number): void {
    const cut = nowMs - this.windowMs;
    let i = 0;
    while (i < this.times.length && this.times[i] <= cut) i++;
    if (i) this.times.splice(0, i);
  }
}

/** Keeps (time, value) pairs over a window and answers percentiles. */
export class WindowPercentiles {
  private items: { t: number; v: number }[] = [];
  constructor(private readonly windowMs = 2000) {}
  add(nowMs: number, v: number): void {
    this.items.push({ t: nowMs, v });
    this.trim(nowMs);
  }
  /** p in 0..100, nearest-rank; null when empty */
  percentile(nowMs: number, p: number): number | null {
    this.trim(nowMs);
    return percentile(this.items.map((x) => x.v), p);
  }
  reset(): void {
    this.items = [];
  }
  private trim(nowMs: number): void {
    const cut = nowMs - this.windowMs;
    let i = 0;
    while (i < this.items.length && this.items[i].t <= cut) i++;
    if (i) this.items.splice(0, i);
  }
}

/** Nearest-rank percentile of values (p in 0..100); null for an empty list. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}
