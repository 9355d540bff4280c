// clock.ts - estimates the server's clock offset from ping/pong samples (NTP's formula), so that
// a frame's latency can be split into uplink, server and downlink. Pure, no I/O.

export interface ClockSample {
  /** server clock minus client clock, µs */
  offsetUs: number;
  /** network round trip, excluding the server's own time, µs */
  rttUs: number;
}

/** One ping/pong exchange: t1 client send, t2 server receive, t3 server send, t4 client receive
 * (t1, t4 on the client's clock; t2, t3 on the server's; all µs since the epoch). */
export function clockSample(t1: number, t2: number, t3: number, t4: number): ClockSample {
  return { offsetUs: (t2 - t1 + (t3 - t4)) / 2, rttUs: t4 - t1 - (t3 - t2) };
}

/** Keeps the last `keep` samples and trusts the one with the smallest round trip (its offset has
 * the smallest error bound, rtt/2). */
export class ClockSync {
  private samples: ClockSample[] = [];
  constructor(private readonly keep = 8) {}

  add(t1: number, t2: number, t3: number, t4: number): ClockSample | null {
    const s = clockSample(t1, t2, t3, t4);
    if (!(s.rttUs >= 0) || !Number.isFinite(s.offsetUs)) return null; // clocks went backwards: drop it
    this.samples.push(s);
    if (this.samples.length > this.keep) this.samples.shift();
    return s;
  }

  /** The best estimate, or null before the first sample. */
  best(): ClockSample | null {
    let b: ClockSample | null = null;
    for (const s of this.samples) if (!b || s.rttUs < b.rttUs) b = s;
    return b;
  }

  get count(): number {
    return this.samples.length;
  }

  reset(): void {
    this.samples = [];
  }
}
