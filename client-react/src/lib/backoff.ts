// backoff.ts - reconnect delays: exponential with full jitter, capped. Pure.

export interface BackoffOptions {
  /** first delay, ms (default 250) */
  baseMs?: number;
  /** largest delay, ms (default 10000) */
  maxMs?: number;
  /** 0..1: the fraction of the delay that is randomised (default 0.5) */
  jitter?: number;
}

/** Delay before reconnect attempt `attempt` (1 = the first retry). `random` returns 0..1. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = opts.baseMs ?? 250;
  const max = opts.maxMs ?? 10000;
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  const n = Math.max(1, Math.floor(attempt));
  const raw = Math.min(max, base * 2 ** Math.min(n - 1, 30));
  return Math.round(raw * (1 - jitter) + raw * jitter * random());
}
