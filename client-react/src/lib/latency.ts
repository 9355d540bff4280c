// latency.ts - splits one frame's latency into its parts from client and server timestamps.
// Pure. All inputs in µs; client times on the client's wall clock (performance.timeOrigin +
// performance.now()), server times on the server's; offsetUs = server minus client.

import type { ResultMessage } from './protocol';

export interface LatencySplit {
  /** capture → frame handed to the socket (draw + JPEG encode on the client), ms */
  encodeMs: number;
  /** frame sent → server had it whole; null without clock sync or server timestamps */
  uplinkMs: number | null;
  /** server had the frame → result built (the server's own clock) */
  serverMs: number;
  /** the server's stages, ms */
  stages: { queue: number; decode: number; preprocess: number; wait: number; infer: number };
  /** result built → received by the client; null without clock sync or server timestamps */
  downlinkMs: number | null;
  /** capture → result received, ms (client clock only: always available) */
  totalMs: number;
}

export interface FrameTimes {
  captureUs: number;
  sentUs: number;
  receivedUs: number;
}

export function splitLatency(r: ResultMessage, t: FrameTimes, offsetUs: number | null): LatencySplit {
  const ms = (us: number) => us / 1000;
  let uplinkMs: number | null = null;
  let downlinkMs: number | null = null;
  let serverUs = r.timing_us.total;
  if (offsetUs !== null && r.server_rx_ts_us !== undefined && r.server_tx_ts_us !== undefined) {
    uplinkMs = ms(r.server_rx_ts_us - (t.sentUs + offsetUs));
    downlinkMs = ms(t.receivedUs + offsetUs - r.server_tx_ts_us);
    serverUs = r.server_tx_ts_us - r.server_rx_ts_us;
  }
  const tu = r.timing_us;
  return {
    encodeMs: ms(t.sentUs - t.captureUs),
    uplinkMs,
    serverMs: ms(serverUs),
    stages: { queue: ms(tu.queue), decode: ms(tu.decode), preprocess: ms(tu.preprocess), wait: ms(tu.wait), infer: ms(tu.infer) },
    downlinkMs,
    totalMs: ms(t.receivedUs - t.captureUs),
  };
}
