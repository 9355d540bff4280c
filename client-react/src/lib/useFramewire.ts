// useFramewire.ts - the React hooks: useFramewire() owns a FramewireClient for a component's
// lifetime (connect on mount, close on unmount, reconnect with backoff in between) and exposes
// its state; useCaptureLoop() runs the adaptive capture loop of a video element through it.

import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { AdaptState } from './adapt';
import { FramewireClient, type FramewireOptions, type FramewireSnapshot, type FrameTicket } from './client';
import { CaptureLoop, type FrameEncoder } from './loop';
import type { SessionConfig } from './protocol';

export interface UseFramewireResult extends FramewireSnapshot {
  client: FramewireClient;
  /** takes an in-flight slot for one frame, or null (not ready / at the server's cap) */
  beginFrame(): FrameTicket | null;
  setConfig(cfg: Partial<SessionConfig>): void;
}

/** The default server URL: the page's own host (framewire serves the app and the socket). */
export function defaultUrl(): string {
  if (typeof location === 'undefined') return 'ws://127.0.0.1:8080/';
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`;
}

/** Connects to framewire while the component is mounted. A new `url` or `token` makes a new
 * connection;
 * `topK`, `policy` and `maxAgeMs` are sent as config when they change. Re-renders at most once
 * per animation frame however fast answers arrive. */
export function useFramewire(options: Partial<FramewireOptions> = {}): UseFramewireResult {
  const url = options.url ?? defaultUrl();
  const optsRef = useRef(options);
  optsRef.current = options;
  // Everything but the URL is read once per connection; config fields are updated below.
  const token = options.token;
  const client = useMemo(() => new FramewireClient({ ...optsRef.current, url, token }), [url, token]);

  useEffect(() => {
    client.connect();
    const refresh = setInterval(() => client.refresh(), 1000); // rates decay when idle
    return () => {
      clearInterval(refresh);
      client.close();
    };
  }, [client]);

  const { topK, policy, maxAgeMs } = options;
  useEffect(() => {
    client.setConfig({ top_k: topK, policy, max_age_ms: maxAgeMs });
  }, [client, topK, policy, maxAgeMs]);

  const subscribe = useMemo(
    () => (notify: () => void) => {
      let queued = false;
      const raf = typeof requestAnimationFrame === 'function' ? requestAnimationFrame : (f: () => void) => setTimeout(f, 16);
      return client.subscribe(() => {
        if (queued) return;
        queued = true;
        raf(() => {
          queued = false;
          notify();
        });
      });
    },
    [client],
  );
  const snap = useSyncExternalStore(subscribe, () => client.getSnapshot(), () => client.getSnapshot());
  return useMemo(
    () => ({
      ...snap,
      client,
      beginFrame: () => client.beginFrame(),
      setConfig: (cfg: Partial<SessionConfig>) => client.setConfig(cfg),
    }),
    [snap, client],
  );
}

export interface CaptureLoopSettings {
  /** frames per second asked for (the ceiling) */
  maxFps: number;
  /** JPEG quality 0..1 asked for (the ceiling) */
  quality: number;
  /** adapt to the server (default true) */
  adapt?: boolean;
  /** capture → result latency that counts as too slow, ms (default 250) */
  targetLatencyMs?: number;
}

/** Runs the capture loop while `enabled`: frames from `sourceReady`/`encode` go to `client`.
 * Returns the controller's current settings (what it lowered, and why). */
export function useCaptureLoop(
  client: FramewireClient,
  sourceReady: () => boolean,
  encode: FrameEncoder,
  settings: CaptureLoopSettings,
  enabled: boolean,
): AdaptState {
  const fnRef = useRef({ sourceReady, encode });
  fnRef.current = { sourceReady, encode };
  const { maxFps, quality, adapt, targetLatencyMs } = settings;
  const loop = useMemo(
    () =>
      new CaptureLoop(client, {
        sourceReady: () => fnRef.current.sourceReady(),
        encode: (s, q) => fnRef.current.encode(s, q),
        limits: { maxFps, maxQuality: quality, targetLatencyMs },
        adapt,
      }),
    // The loop is rebuilt for a new client or new adaptation rules; ceilings are set below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [client, adapt, targetLatencyMs],
  );
  const [state, setState] = useState<AdaptState>(() => loop.state);
  useEffect(() => loop.onAdapt(setState), [loop]);
  useEffect(() => {
    loop.setLimits(maxFps, quality);
  }, [loop, maxFps, quality]);
  useEffect(() => {
    if (!enabled) return;
    loop.start();
    return () => loop.stop();
  }, [loop, enabled]);
  return state;
}
