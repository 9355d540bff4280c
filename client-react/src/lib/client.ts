// client.ts - FramewireClient: one framewire.v1 session as a state machine, independent of React.
// It connects, waits for hello, applies the session config, keeps at most min(client cap,
// server's max_inflight) frames unanswered, matches every answer (result, error, dropped) to its
// frame, syncs clocks with ping/pong, and reconnects with exponential backoff when the socket
// closes. useFramewire() wraps it for React; the capture loop (loop.ts) feeds it frames.
//
// States: idle → connecting → ready ⇄ (socket closes) reconnecting → connecting → …; close()
// from any state → closed. Frames can be sent only in `ready`.
//
// Everything runs on the browser's one JavaScript thread; timers and the socket factory can be
// injected so tests drive it with real sockets (Node's `ws`) and short delays.

import { backoffDelay, type BackoffOptions } from './backoff';
import { ClockSync, type ClockSample } from './clock';
import { splitLatency, type LatencySplit } from './latency';
import { RateMeter, WindowPercentiles } from './meter';
import {
  configMessage,
  encodeFrame,
  parseServerMessage,
  pingMessage,
  ProtocolError,
  SUBPROTOCOL,
  HEADER_BYTES,
  type ClassScore,
  type HelloMessage,
  type Policy,
  type ResultMessage,
  type ServerMessage,
  type SessionConfig,
  type StatsMessage,
} from './protocol';

export type ConnectionState = 'idle' | 'connecting' | 'ready' | 'reconnecting' | 'closed';

/** The part of the browser WebSocket API the client uses (Node's `ws` has it too). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketFactory = (url: string, protocol: string) => WebSocketLike;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface FramewireOptions {
  /** ws:// or wss:// URL of the framewire server */
  url: string;
  /** bearer token when the server runs with --token (sent as ?token=, browsers cannot set
   * headers on a WebSocket) */
  token?: string;
  /** classes per result (default: the server's) */
  topK?: number;
  /** realtime (latest frame wins) or lossless; default: the server's */
  policy?: Policy;
  /** freshness budget in ms for realtime sessions; default: the server's */
  maxAgeMs?: number;
  /** the client's own cap on unanswered frames (default 2); the server's hint caps it too */
  maxInflight?: number;
  /** reconnect delays (default 250 ms doubling to 10 s, half jittered) */
  backoff?: BackoffOptions;
  /** close and retry when no hello comes this long after the socket opened (default 5000) */
  helloTimeoutMs?: number;
  /** clock sync: pings right after hello, spaced `burstGapMs`, then one every `intervalMs` */
  clockSync?: { burst?: number; burstGapMs?: number; intervalMs?: number };
  /** the window (ms) of the client's own rates and percentiles (default 2000) */
  meterWindowMs?: number;
  webSocket?: WebSocketFactory;
  timers?: Timers;
  random?: () => number;
  /** wall clock in µs since the epoch (default: performance.timeOrigin + performance.now()) */
  nowUs?: () => number;
}

/** A frame that holds one of the in-flight slots until it is answered. */
export interface FrameTicket {
  readonly id: number;
  /** capture time, client wall clock, µs */
  readonly captureUs: number;
  /** Sends the JPEG. False (and the slot is freed) when the connection it was taken on is gone,
   * or the JPEG is too big for the server's max_message_bytes. */
  send(jpeg: ArrayBuffer | Uint8Array): boolean;
  /** Frees the slot without sending (e.g. the encoder failed). */
  cancel(): void;
}

export interface ResultView {
  frameId: number;
  top: ClassScore[];
  batch: number;
  latency: LatencySplit;
  receivedUs: number;
}

export type Answer =
  | { kind: 'result'; frameId: number; view: ResultView; message: ResultMessage }
  | { kind: 'error'; frameId: number; code: string; message: string }
  | { kind: 'dropped'; frameId: number; reason: string };

export interface ClientCounts {
  sent: number;
  results: number;
  errors: number;
  dropped: number;
  /** server messages that broke the protocol (ignored) */
  protocolErrors: number;
  reconnects: number;
}

export interface ClientMeasures {
  /** frames sent per second (client's own window) */
  sentFps: number;
  /** results received per second */
  resultFps: number;
  /** capture → result, ms */
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
}

export interface FramewireSnapshot {
  state: ConnectionState;
  /** reconnect attempt now waiting or connecting (0 once ready) */
  attempt: number;
  /** delay of the pending reconnect, ms; null when none is pending */
  retryInMs: number | null;
  hello: HelloMessage | null;
  /** the session settings the server confirmed */
  config: SessionConfig | null;
  /** the cap in force: min(client cap, server's max_inflight); 0 before hello */
  maxInflight: number;
  inflight: number;
  /** the newest result (by frame id) */
  result: ResultView | null;
  /** the last error answer, or protocol/client-side problem */
  lastError: { code: string; message: string; frameId: number | null } | null;
  lastClose: { code: number; reason: string } | null;
  /** the server's periodic stats; null until one arrives (older servers send none) */
  serverStats: StatsMessage | null;
  /** null until the first pong (older servers answer none) */
  clock: ClockSample | null;
  /** false once pings went unanswered on this connection (server without clock sync) */
  clockSupported: boolean;
  counts: ClientCounts;
  measures: ClientMeasures;
}

interface Pending {
  captureUs: number;
  sentUs: number;
  gen: number;
}

const OPEN = 1;

/** The URL with ?token=… added (or replaced) when a token is given. */
export function withToken(url: string, token: string | undefined): string {
  if (!token) return url;
  const u = new URL(url);
  u.searchParams.set('token', token);
  return u.toString();
}

function defaultNowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export class FramewireClient {
  private readonly opts: FramewireOptions;
  private readonly timers: Timers;
  private readonly nowUs: () => number;
  private ws: WebSocketLike | null = null;
  private gen = 0; // connection generation: tickets and timers of an older one are void
  private state: ConnectionState = 'idle';
  private attempt = 0;
  private retryInMs: number | null = null;
  private retryTimer: unknown = null;
  private helloTimer: unknown = null;
  private pingTimer: unknown = null;
  private pingsUnanswered = 0;
  private pingsSent = 0;
  private clockSupported = true;
  private hello: HelloMessage | null = null;
  private config: SessionConfig | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private reserved = 0; // tickets taken but not yet sent or cancelled
  private result: ResultView | null = null;
  private lastError: FramewireSnapshot['lastError'] = null;
  private lastClose: FramewireSnapshot['lastClose'] = null;
  private serverStats: StatsMessage | null = null;
  private readonly clock = new ClockSync();
  private readonly counts: ClientCounts = { sent: 0, results: 0, errors: 0, dropped: 0, protocolErrors: 0, reconnects: 0 };
  private readonly sentMeter: RateMeter;
  private readonly resultMeter: RateMeter;
  private readonly latency: WindowPercentiles;
  private wanted: Partial<SessionConfig>;
  private snap: FramewireSnapshot;
  private readonly listeners = new Set<() => void>();
  private readonly answerListeners = new Set<(a: Answer) => void>();

  constructor(opts: FramewireOptions) {
    this.opts = opts;
    this.timers = opts.timers ?? { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as number) };
    this.nowUs = opts.nowUs ?? defaultNowUs;
    const win = opts.meterWindowMs ?? 2000;
    this.sentMeter = new RateMeter(win);
    this.resultMeter = new RateMeter(win);
    this.latency = new WindowPercentiles(win);
    this.wanted = { top_k: opts.topK, policy: opts.policy, max_age_ms: opts.maxAgeMs };
    this.snap = this.build();
  }

  // ---- public API ----

  /** Opens the connection (from idle or closed). */
  connect(): void {
    if (this.state !== 'idle' && this.state !== 'closed') return;
    this.attempt = 0;
    this.open();
  }

  /** Closes for good (no reconnect); unanswered frames are forgotten. */
  close(): void {
    this.state = 'closed';
    this.clearTimers();
    this.retryInMs = null;
    this.dropSocket(1000, 'client closed');
    this.emit();
  }

  /** Asks the server for new session settings (sent now when ready, else after the next hello). */
  setConfig(cfg: Partial<SessionConfig>): void {
    this.wanted = { ...this.wanted, ...cfg };
    if (this.state === 'ready') this.sendConfig();
  }

  /** Takes an in-flight slot for a new frame, or null when none is free or not ready. */
  beginFrame(): FrameTicket | null {
    if (!this.canSend()) return null;
    const id = this.nextId++;
    const captureUs = this.nowUs();
    const gen = this.gen;
    let done = false;
    this.reserved++;
    this.emit();
    return {
      id,
      captureUs,
      send: (jpeg) => {
        if (done) return false;
        done = true;
        this.reserved--;
        const ws = this.ws;
        if (gen !== this.gen || !ws || ws.readyState !== OPEN || this.state !== 'ready') {
          this.emit();
          return false;
        }
        const size = jpeg.byteLength + HEADER_BYTES;
        if (this.hello && size > this.hello.limits.max_message_bytes) {
          this.lastError = {
            code: 'frame_too_large',
            message: `frame of ${size} bytes is over the server's max_message_bytes ${this.hello.limits.max_message_bytes}; not sent`,
            frameId: id,
          };
          this.emit();
          return false;
        }
        let body: Uint8Array;
        try {
          body = encodeFrame(id, captureUs, jpeg);
        } catch (e) {
          this.lastError = { code: 'encode_failed', message: String((e as Error).message), frameId: id };
          this.emit();
          return false;
        }
        const sentUs = this.nowUs();
        this.pending.set(id, { captureUs, sentUs, gen });
        ws.send(body);
        this.counts.sent++;
        this.sentMeter.add(sentUs / 1000);
        this.emit();
        return true;
      },
      cancel: () => {
        if (done) return;
        done = true;
        this.reserved--;
        this.emit();
      },
    };
  }

  /** The id the next frame will get (ids grow across reconnects). */
  get nextFrameId(): number {
    return this.nextId;
  }

  /** True when a frame may be started now. */
  canSend(): boolean {
    return this.state === 'ready' && this.inflight() < this.effectiveMaxInflight();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with every answer matched to a frame of this client. */
  onAnswer(listener: (a: Answer) => void): () => void {
    this.answerListeners.add(listener);
    return () => this.answerListeners.delete(listener);
  }

  /** The current state; the same object until something changes (for useSyncExternalStore). */
  getSnapshot(): FramewireSnapshot {
    return this.snap;
  }

  /** Recomputes the time-windowed measures (rates decay while nothing arrives). */
  refresh(): void {
    this.emit();
  }

  // ---- connection ----

  private open(): void {
    this.clearTimers();
    this.gen++;
    const gen = this.gen;
    this.state = 'connecting';
    this.retryInMs = null;
    this.hello = null;
    this.config = null;
    this.clockSupported = true;
    this.pingsUnanswered = 0;
    this.pingsSent = 0;
    this.clock.reset();
    this.pending.clear();
    this.reserved = 0;
    let ws: WebSocketLike;
    try {
      const make = this.opts.webSocket ?? ((url: string, p: string) => new WebSocket(url, p) as unknown as WebSocketLike);
      ws = make(withToken(this.opts.url, this.opts.token), SUBPROTOCOL);
    } catch (e) {
      this.lastError = { code: 'connect_failed', message: String((e as Error).message), frameId: null };
      this.scheduleReconnect();
      this.emit();
      return;
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (gen !== this.gen) return;
      this.helloTimer = this.timers.setTimeout(() => {
        if (gen !== this.gen) return;
        this.lastError = { code: 'no_hello', message: `no hello within ${this.helloTimeout()} ms`, frameId: null };
        this.dropSocket(4000, 'no hello');
        this.scheduleReconnect();
        this.emit();
      }, this.helloTimeout());
    };
    ws.onmessage = (ev) => {
      if (gen !== this.gen) return;
      if (typeof ev.data !== 'string') {
        this.protocolError('binary message from the server');
        return;
      }
      let msg: ServerMessage | null;
      try {
        msg = parseServerMessage(ev.data);
      } catch (e) {
        this.protocolError(e instanceof ProtocolError ? e.message : String(e));
        return;
      }
      if (msg) this.handle(msg);
    };
    ws.onerror = () => {
      /* a close event follows; it carries the code */
    };
    ws.onclose = (ev) => {
      if (gen !== this.gen) return;
      this.lastClose = { code: ev.code, reason: ev.reason };
      this.ws = null;
      this.scheduleReconnect();
      this.emit();
    };
    this.emit();
  }

  private helloTimeout(): number {
    return this.opts.helloTimeoutMs ?? 5000;
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed') return;
    this.clearTimers();
    this.gen++; // void the old socket's tickets
    this.pending.clear();
    this.reserved = 0;
    this.state = 'reconnecting';
    this.attempt++;
    this.counts.reconnects++;
    const delay = backoffDelay(this.attempt, this.opts.backoff, this.opts.random);
    this.retryInMs = delay;
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'reconnecting') this.open();
    }, delay);
  }

  private dropSocket(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.gen++;
    this.pending.clear();
    this.reserved = 0;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(code, reason);
      } catch {
        /* already closing */
      }
    }
  }

  private clearTimers(): void {
    for (const t of [this.retryTimer, this.helloTimer, this.pingTimer]) if (t !== null) this.timers.clearTimeout(t);
    this.retryTimer = this.helloTimer = this.pingTimer = null;
  }

  // ---- messages ----

  private handle(msg: ServerMessage): void {
    switch (msg.type) {
      case 'hello':
        if (this.helloTimer !== null) this.timers.clearTimeout(this.helloTimer);
        this.helloTimer = null;
        this.hello = msg;
        this.config = msg.config;
        this.state = 'ready';
        this.attempt = 0;
        this.sendConfig();
        this.schedulePing(0);
        break;
      case 'config':
        this.config = { top_k: msg.top_k, policy: msg.policy, max_age_ms: msg.max_age_ms };
        break;
      case 'result':
        this.onResult(msg);
        break;
      case 'error': {
        this.lastError = { code: msg.code, message: msg.message, frameId: msg.frame_id };
        if (msg.frame_id !== null && this.settle(msg.frame_id)) {
          this.counts.errors++;
          this.notify({ kind: 'error', frameId: msg.frame_id, code: msg.code, message: msg.message });
        }
        break;
      }
      case 'dropped':
        if (this.settle(msg.frame_id)) {
          this.counts.dropped++;
          this.notify({ kind: 'dropped', frameId: msg.frame_id, reason: msg.reason });
        }
        break;
      case 'pong': {
        this.pingsUnanswered = 0;
        this.clock.add(msg.client_ts_us, msg.server_rx_ts_us, msg.server_tx_ts_us, this.nowUs());
        break;
      }
      case 'stats':
        this.serverStats = msg;
        break;
    }
    this.emit();
  }

  private onResult(msg: ResultMessage): void {
    const receivedUs = this.nowUs();
    const p = this.pending.get(msg.frame_id);
    if (!this.settle(msg.frame_id) || !p) return; // not ours (or from an older connection)
    const best = this.clock.best();
    const latency = splitLatency(msg, { captureUs: p.captureUs, sentUs: p.sentUs, receivedUs }, best ? best.offsetUs : null);
    const view: ResultView = { frameId: msg.frame_id, top: msg.top, batch: msg.batch, latency, receivedUs };
    this.counts.results++;
    this.resultMeter.add(receivedUs / 1000);
    this.latency.add(receivedUs / 1000, latency.totalMs);
    // Answers may overtake each other: show the newest frame's result.
    if (!this.result || msg.frame_id > this.result.frameId) this.result = view;
    this.notify({ kind: 'result', frameId: msg.frame_id, view, message: msg });
  }

  /** Frees the frame's slot; false when the id is not an unanswered frame of this connection. */
  private settle(frameId: number): boolean {
    const p = this.pending.get(frameId);
    if (!p || p.gen !== this.gen) return false;
    this.pending.delete(frameId);
    return true;
  }

  private sendConfig(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || !this.config) return;
    const diff: Partial<SessionConfig> = {};
    if (this.wanted.top_k !== undefined && this.wanted.top_k !== this.config.top_k) diff.top_k = this.wanted.top_k;
    if (this.wanted.policy !== undefined && this.wanted.policy !== this.config.policy) diff.policy = this.wanted.policy;
    if (this.wanted.max_age_ms !== undefined && this.wanted.max_age_ms !== this.config.max_age_ms)
      diff.max_age_ms = this.wanted.max_age_ms;
    if (Object.keys(diff).length) ws.send(configMessage(diff));
  }

  private schedulePing(delayMs: number): void {
    const gen = this.gen;
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = null;
      if (gen !== this.gen || this.state !== 'ready' || !this.ws) return;
      if (this.pingsUnanswered >= 3) {
        this.clockSupported = false; // the server does not answer pings: latency split stays n/a
        this.emit();
        return;
      }
      this.ws.send(pingMessage(this.nowUs()));
      this.pingsSent++;
      this.pingsUnanswered++;
      const cs = this.opts.clockSync ?? {};
      const burst = cs.burst ?? 5;
      this.schedulePing(this.pingsSent < burst ? (cs.burstGapMs ?? 200) : (cs.intervalMs ?? 5000));
    }, delayMs);
  }

  private protocolError(message: string): void {
    this.counts.protocolErrors++;
    this.lastError = { code: 'protocol', message, frameId: null };
    this.emit();
  }

  private notify(a: Answer): void {
    for (const l of this.answerListeners) l(a);
  }

  // ---- snapshot ----

  private inflight(): number {
    return this.pending.size + this.reserved;
  }

  private effectiveMaxInflight(): number {
    if (!this.hello) return 0;
    return Math.max(1, Math.min(this.opts.maxInflight ?? 2, this.hello.limits.max_inflight));
  }

  private build(): FramewireSnapshot {
    const nowMs = this.nowUs() / 1000;
    return {
      state: this.state,
      attempt: this.attempt,
      retryInMs: this.retryInMs,
      hello: this.hello,
      config: this.config,
      maxInflight: this.effectiveMaxInflight(),
      inflight: this.inflight(),
      result: this.result,
      lastError: this.lastError,
      lastClose: this.lastClose,
      serverStats: this.serverStats,
      clock: this.clock.best(),
      clockSupported: this.clockSupported,
      counts: { ...this.counts },
      measures: {
        sentFps: this.sentMeter.rate(nowMs),
        resultFps: this.resultMeter.rate(nowMs),
        latencyP50Ms: this.latency.percentile(nowMs, 50),
        latencyP99Ms: this.latency.percentile(nowMs, 99),
      },
    };
  }

  private emit(): void {
    this.snap = this.build();
    for (const l of this.listeners) l();
  }
}
