// helpers.ts - a scripted framewire.v1 server on a real socket (Node's `ws`) for the client's
// unit tests, and small utilities. The real server is tested in the browser e2e test; here the
// script decides exactly what arrives and when, to drive the client's state machine.
import { WebSocketServer, WebSocket as NodeWebSocket, type RawData } from 'ws';
import type { AddressInfo } from 'node:net';
import { decodeFrame, type DecodedFrame } from '../src/lib/protocol';
import type { WebSocketFactory, WebSocketLike } from '../src/lib/client';

export interface Conn {
  ws: NodeWebSocket;
  protocol: string;
  url: string;
  frames: DecodedFrame[];
  texts: Record<string, unknown>[];
  send(msg: Record<string, unknown>): void;
  hello(over?: { max_inflight?: number; top_k?: number; policy?: string }): void;
  result(frameId: number, label?: string, extra?: Record<string, unknown>): void;
}

export interface Scripted {
  url: string;
  port: number;
  conns: Conn[];
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 (any port, or `port`); onConn is called for each connection and
 * onFrame / onText for each message on it. */
export async function scriptedServer(
  handlers: {
    onConn?: (c: Conn) => void;
    onFrame?: (c: Conn, f: DecodedFrame) => void;
    onText?: (c: Conn, m: Record<string, unknown>) => void;
  },
  port = 0,
): Promise<Scripted> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port, handleProtocols: (p) => (p.has('framewire.v1') ? 'framewire.v1' : false) });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const conns: Conn[] = [];
  wss.on('connection', (ws, req) => {
    const c: Conn = {
      ws,
      protocol: ws.protocol,
      url: req.url ?? '',
      frames: [],
      texts: [],
      send: (m) => ws.send(JSON.stringify(m)),
      hello: (o = {}) =>
        c.send({
          type: 'hello',
          protocol: 'framewire.v1',
          version: 1,
          server: 'scripted 0',
          session: conns.length,
          model: { name: 'm', input_width: 32, input_height: 32, labels: 4, output: 'logits', device: 'cpu' },
          limits: { max_message_bytes: 1 << 20, max_pixels: 1 << 24, max_inflight: o.max_inflight ?? 4, max_top_k: 100 },
          config: { top_k: o.top_k ?? 5, policy: o.policy ?? 'realtime', max_age_ms: 0 },
        }),
      result: (frameId, label = 'red', extra = {}) =>
        c.send({
          type: 'result',
          frame_id: frameId,
          capture_ts_us: 0,
          top: [{ label, index: 0, prob: 0.9 }],
          timing_us: { queue: 1, decode: 2, preprocess: 3, wait: 4, infer: 5, total: 15 },
          batch: 1,
          ...extra,
        }),
    };
    conns.push(c);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
      if (isBinary) {
        const f = decodeFrame(new Uint8Array(buf));
        c.frames.push(f);
        handlers.onFrame?.(c, f);
      } else {
        const m = JSON.parse(buf.toString()) as Record<string, unknown>;
        c.texts.push(m);
        handlers.onText?.(c, m);
      }
    });
    handlers.onConn?.(c);
  });
  const addr = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${addr.port}/`,
    port: addr.port,
    conns,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

/** The client's socket factory over Node's `ws` (the browser has WebSocket built in). */
export const nodeSockets: WebSocketFactory = (url, protocol) => new NodeWebSocket(url, protocol) as unknown as WebSocketLike;

/** Polls until cond() is true; throws after timeoutMs with `what`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small valid-looking JPEG payload (SOI ... EOI); the scripted server does not decode it. */
export function fakeJpeg(n = 100): Uint8Array {
  const b = new Uint8Array(n);
  b[0] = 0xff;
  b[1] = 0xd8;
  b[n - 2] = 0xff;
  b[n - 1] = 0xd9;
  for (let i = 2; i < n - 2; i++) b[i] = i & 0xff;
  return b;
}
