// adapt.ts - keeps latency low when the server (or the network) cannot keep up: once per window
// it looks at what happened and lowers the capture frame rate, then the JPEG quality, then the
// resolution; when things are calm again it restores them in the reverse order. Pure: the
// caller feeds it one WindowSample per window and applies the settings it returns.

export interface AdaptSettings {
  /** frames captured per second */
  fps: number;
  /** JPEG quality 0..1 */
  quality: number;
  /** encode size as a fraction of the source size */
  scale: number;
}

export interface AdaptLimits {
  /** what the user asked for: the controller never goes above these */
  maxFps: number;
  maxQuality: number;
  /** floors (defaults: 2 fps, quality 0.4, scale 0.5) */
  minFps?: number;
  minQuality?: number;
  scales?: number[];
  /** capture → result latency above this (ms) counts as congestion (default 250) */
  targetLatencyMs?: number;
  /** calm windows in a row before one step back up (default 3) */
  calmWindows?: number;
}

/** What the capture loop saw during one window. */
export interface WindowSample {
  /** capture ticks (one per 1/fps) */
  ticks: number;
  /** ticks skipped because max_inflight frames were already unanswered */
  busy: number;
  /** answers received (results, errors, dropped notices) */
  answers: number;
  /** of which the server dropped (superseded or stale); more than 5% counts as congestion */
  dropped: number;
  /** results per second over the window */
  resultFps: number;
  /** median capture → result latency (ms) in the window, null when no result */
  latencyP50Ms: number | null;
}

export interface AdaptState extends AdaptSettings {
  /** true while any setting is below what the user asked for */
  adapted: boolean;
  /** the last change and why, for people ("" before any) */
  reason: string;
  /** how many changes were made (down and up) */
  changes: number;
}

const round = (x: number, step: number) => Number((Math.round(x / step) * step).toFixed(4));

export class RateController {
  private s: AdaptState;
  private calm = 0;
  private readonly minFps: number;
  private readonly minQuality: number;
  private readonly scales: number[];
  private readonly target: number;
  private readonly calmNeeded: number;

  constructor(private limits: AdaptLimits) {
    this.minFps = limits.minFps ?? 2;
    this.minQuality = limits.minQuality ?? 0.4;
    this.scales = [...(limits.scales ?? [1, 0.75, 0.5])].sort((a, b) => b - a);
    this.target = limits.targetLatencyMs ?? 250;
    this.calmNeeded = limits.calmWindows ?? 3;
    this.s = { fps: limits.maxFps, quality: limits.maxQuality, scale: this.scales[0], adapted: false, reason: '', changes: 0 };
  }

  get state(): AdaptState {
    return { ...this.s };
  }

  /** The user changed the ceilings (fps or quality controls): start again from them. */
  setLimits(maxFps: number, maxQuality: number): void {
    this.limits = { ...this.limits, maxFps, maxQuality };
    this.s = { ...this.s, fps: maxFps, quality: maxQuality, scale: this.scales[0], adapted: false, reason: '' };
    this.calm = 0;
  }

  /** Feeds one window; returns the settings to use from now on. */
  update(w: WindowSample): AdaptState {
    if (w.ticks === 0 && w.answers === 0) return this.state; // idle (no source, not connected)
    const busyShare = w.ticks > 0 ? w.busy / w.ticks : 0;
    const dropShare = w.answers > 0 ? w.dropped / w.answers : 0;
    const throughputBound = busyShare > 0.1 || dropShare > 0.05;
    const slow = w.latencyP50Ms !== null && w.latencyP50Ms > this.target;
    if (throughputBound || slow) {
      this.calm = 0;
      this.down(w, throughputBound, busyShare, dropShare, slow);
    } else {
      const relaxed = w.latencyP50Ms === null || w.latencyP50Ms < this.target * 0.7;
      this.calm = relaxed ? this.calm + 1 : 0;
      if (this.calm >= this.calmNeeded) {
        this.calm = 0;
        this.up();
      }
    }
    this.s.adapted =
      this.s.fps < this.limits.maxFps || this.s.quality < this.limits.maxQuality || this.s.scale < this.scales[0];
    return this.state;
  }

  private change(field: keyof AdaptSettings, to: number, why: string): void {
    const from = this.s[field];
    this.s[field] = to;
    this.s.changes++;
    const fmt = (x: number) => (field === 'fps' ? x.toFixed(0) : field === 'quality' ? x.toFixed(2) : `${Math.round(x * 100)}%`);
    const name = field === 'fps' ? 'frame rate' : field === 'quality' ? 'JPEG quality' : 'resolution';
    this.s.reason = `${why}: ${name} ${fmt(from)} → ${fmt(to)}`;
  }

  private down(w: WindowSample, throughputBound: boolean, busyShare: number, dropShare: number, slow: boolean): void {
    const why = throughputBound
      ? dropShare > 0.05
        ? `server dropped ${w.dropped} of ${w.answers} frames`
        : `results ${w.resultFps.toFixed(1)}/s < capture ${this.s.fps.toFixed(0)}/s (${Math.round(busyShare * 100)}% of frames waited)`
      : `latency ${w.latencyP50Ms!.toFixed(0)} ms > ${this.target} ms`;
    const scaleIdx = this.scales.indexOf(this.s.scale);
    // Throughput-bound: match the frame rate to what comes back, then make frames cheaper.
    // Latency-bound with enough throughput: make frames cheaper first, then slow down.
    const order: Array<'fps' | 'quality' | 'scale'> = throughputBound || !slow ? ['fps', 'quality', 'scale'] : ['quality', 'scale', 'fps'];
    for (const f of order) {
      if (f === 'fps' && this.s.fps > this.minFps) {
        const byResults = w.resultFps > 0 ? w.resultFps * 0.9 : this.s.fps * 0.5;
        const next = Math.max(this.minFps, Math.min(this.s.fps * 0.8, byResults));
        this.change('fps', Math.max(this.minFps, Math.floor(next)), why);
        return;
      }
      if (f === 'quality' && this.s.quality > this.minQuality + 1e-9) {
        this.change('quality', Math.max(this.minQuality, round(this.s.quality - 0.1, 0.05)), why);
        return;
      }
      if (f === 'scale' && scaleIdx < this.scales.length - 1) {
        this.change('scale', this.scales[scaleIdx + 1], why);
        return;
      }
    }
  }

  private up(): void {
    const why = 'keeping up again';
    const scaleIdx = this.scales.indexOf(this.s.scale);
    if (scaleIdx > 0) return this.change('scale', this.scales[scaleIdx - 1], why);
    if (this.s.quality < this.limits.maxQuality - 1e-9)
      return this.change('quality', Math.min(this.limits.maxQuality, round(this.s.quality + 0.1, 0.05)), why);
    if (this.s.fps < this.limits.maxFps)
      return this.change('fps', Math.min(this.limits.maxFps, Math.ceil(this.s.fps * 1.25)), why);
  }
}
