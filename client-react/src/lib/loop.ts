// loop.ts - CaptureLoop: takes frames from a source at the controller's frame rate, encodes them
// and sends them through a FramewireClient, never past its in-flight cap; once per window it
// tells the RateController what happened and applies the settings it returns. Independent of
// React and of the DOM (the source and the encoder are passed in), so tests can run it in Node.

import { RateController, type AdaptLimits, type AdaptState } from './adapt';
import type { Answer, FramewireClient, Timers } from './client';
import { percentile } from './meter';

/** Encodes the source's current picture at `scale` of its size and JPEG `quality`; null when
 * there is no picture (yet). */
export type FrameEncoder = (scale: number, quality: number) => Promise<ArrayBuffer | null>;

export interface CaptureLoopOptions {
  /** the source has a picture now (e.g. video.readyState >= HAVE_CURRENT_DATA) */
  sourceReady: () => boolean;
  encode: FrameEncoder;
  limits: AdaptLimits;
  /** adapt at all (default true); when false the ceilings are used as they are */
  adapt?: boolean;
  windowMs?: number;
  timers?: Timers;
  nowMs?: () => number;
}

export interface LoopWindow {
  ticks: number;
  busy: number;
  sent: number;
  results: number;
  errors: number;
  dropped: number;
}

export class CaptureLoop {
  private readonly ctl: RateController;
  private readonly timers: Timers;
  private readonly nowMs: () => number;
  private tickTimer: unknown = null;
  private windowTimer: unknown = null;
  private running = false;
  private win: LoopWindow = { ticks: 0, busy: 0, sent: 0, results: 0, errors: 0, dropped: 0 };
  private latencies: number[] = [];
  private windowStart = 0;
  /** windows seen since the connection became ready; the first is warm-up and not judged */
  private readyWindows = 0;
  private nextTickAt = 0;
  private unsubscribe: (() => void) | null = null;
  private readonly listeners = new Set<(s: AdaptState) => void>();
  private adaptState: AdaptState;
  /** the last full window, for display */
  lastWindow: LoopWindow = { ...this.win };

  constructor(
    private readonly client: FramewireClient,
    private readonly opts: CaptureLoopOptions,
  ) {
    this.ctl = new RateController(opts.limits);
    this.adaptState = this.ctl.state;
    this.timers = opts.timers ?? { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as number) };
    this.nowMs = opts.nowMs ?? (() => performance.now());
  }

  get state(): AdaptState {
    return this.adaptState;
  }

  onAdapt(l: (s: AdaptState) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** New ceilings from the user's controls. */
  setLimits(maxFps: number, maxQuality: number): void {
    this.ctl.setLimits(maxFps, maxQuality);
    this.publish(this.ctl.state);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.readyWindows = 0;
    this.unsubscribe = this.client.onAnswer((a) => this.onAnswer(a));
    this.windowStart = this.nowMs();
    this.nextTickAt = this.nowMs();
    this.scheduleTick();
    this.windowTimer = this.timers.setTimeout(() => this.endWindow(), this.opts.windowMs ?? 1000);
  }

  stop(): void {
    this.running = false;
    if (this.tickTimer !== null) this.timers.clearTimeout(this.tickTimer);
    if (this.windowTimer !== null) this.timers.clearTimeout(this.windowTimer);
    this.tickTimer = this.windowTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private scheduleTick(): void {
    if (!this.running) return;
    const period = 1000 / Math.max(0.1, this.adaptState.fps);
    this.nextTickAt += period;
    const now = this.nowMs();
    if (this.nextTickAt < now - period) this.nextTickAt = now; // fell behind (tab hidden): don't burst
    this.tickTimer = this.timers.setTimeout(() => {
      this.tickTimer = null;
      this.tick();
      this.scheduleTick();
    }, Math.max(0, this.nextTickAt - now));
  }

  private tick(): void {
    if (this.client.getSnapshot().state !== 'ready') {
      this.readyWindows = 0;
      return;
    }
    if (!this.opts.sourceReady()) return;
    this.win.ticks++;
    const ticket = this.client.beginFrame();
    if (!ticket) {
      this.win.busy++; // max_inflight frames are unanswered: this capture would only queue
      return;
    }
    const { scale, quality } = this.adaptState;
    this.opts.encode(scale, quality).then(
      (jpeg) => {
        if (jpeg && ticket.send(jpeg)) this.win.sent++;
        else ticket.cancel();
      },
      () => ticket.cancel(),
    );
  }

  private onAnswer(a: Answer): void {
    if (a.kind === 'result') {
      this.win.results++;
      this.latencies.push(a.view.latency.totalMs);
    } else if (a.kind === 'error') this.win.errors++;
    else this.win.dropped++;
  }

  private endWindow(): void {
    if (!this.running) return;
    const now = this.nowMs();
    const secs = Math.max(0.001, (now - this.windowStart) / 1000);
    const w = this.win;
    const sample = {
      ticks: w.ticks,
      busy: w.busy,
      answers: w.results + w.errors + w.dropped,
      dropped: w.dropped,
      resultFps: w.results / secs,
      latencyP50Ms: percentile(this.latencies, 50),
    };
    this.lastWindow = { ...w };
    this.win = { ticks: 0, busy: 0, sent: 0, results: 0, errors: 0, dropped: 0 };
    this.latencies = [];
    this.windowStart = now;
    // The first window after (re)connecting holds start-up costs (page load, first frames): skip it.
    const judge = this.opts.adapt !== false && this.readyWindows++ > 0;
    const next = judge ? this.ctl.update(sample) : this.ctl.state;
    this.publish(next);
    this.windowTimer = this.timers.setTimeout(() => this.endWindow(), this.opts.windowMs ?? 1000);
  }

  private publish(s: AdaptState): void {
    this.adaptState = s;
    for (const l of this.listeners) l(s);
  }
}
