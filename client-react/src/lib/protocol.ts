// protocol.ts - the framewire.v1 wire format on the browser side: the 24-byte binary frame
// header, the client's JSON messages, and checked parsing of every server message.
// Spec: docs/protocol.md. Pure functions, no I/O.

export const SUBPROTOCOL = 'framewire.v1';
export const HEADER_BYTES = 24;
const MAGIC0 = 0x46; // 'F'
const MAGIC1 = 0x57; // 'W'
const VERSION = 1;

/** Latency policy of a session (server default: realtime). */
export type Policy = 'realtime' | 'lossless';

export interface ModelInfo {
  name: string;
  input_width: number;
  input_height: number;
  labels: number;
  output: string;
  device: string;
}

export interface Limits {
  max_message_bytes: number;
  max_pixels: number;
  /** Frames a client may keep unanswered (the flow hint). */
  max_inflight: number;
  max_top_k: number;
}

export interface SessionConfig {
  top_k: number;
  policy?: Policy;
  max_age_ms?: number;
}

export interface HelloMessage {
  type: 'hello';
  protocol: string;
  version: number;
  server: string;
  session: number;
  model: ModelInfo;
  limits: Limits;
  config: SessionConfig;
}

export interface ClassScore {
  label: string;
  index: number;
  prob: number;
}

export interface TimingUs {
  queue: number;
  decode: number;
  preprocess: number;
  wait: number;
  infer: number;
  total: number;
}

export interface ResultMessage {
  type: 'result';
  frame_id: number;
  capture_ts_us: number;
  top: ClassScore[];
  timing_us: TimingUs;
  batch: number;
  /** Server wall clock (µs since the epoch) when the whole frame had arrived; newer servers. */
  server_rx_ts_us?: number;
  /** Server wall clock when the result was built; newer servers. */
  server_tx_ts_us?: number;
}

export interface ErrorMessage {
  type: 'error';
  frame_id: number | null;
  code: string;
  message: string;
}

export interface DroppedMessage {
  type: 'dropped';
  frame_id: number;
  reason: 'superseded' | 'stale' | string;
}

export interface ConfigMessage extends SessionConfig {
  type: 'config';
}

export interface PongMessage {
  type: 'pong';
  client_ts_us: number;
  server_rx_ts_us: number;
  server_tx_ts_us: number;
}

export interface StatsMessage {
  type: 'stats';
  window_ms: number;
  fps_in: number;
  fps_out: number;
  server_p50_us: number;
  server_p99_us: number;
  frames: number;
  results: number;
  errors: number;
  dropped_superseded: number;
  dropped_stale: number;
}

export type ServerMessage =
  | HelloMessage
  | ResultMessage
  | ErrorMessage
  | DroppedMessage
  | ConfigMessage
  | PongMessage
  | StatsMessage;

/** A server message that does not follow the protocol. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Writes the 24-byte little-endian frame header. frameId and captureUs must be integers in
 * 0..2^53 (JavaScript numbers are exact up to there). */
export function encodeHeader(frameId: number, captureUs: number): ArrayBuffer {
  checkU53(frameId, 'frame id');
  checkU53(captureUs, 'capture timestamp');
  const buf = new ArrayBuffer(HEADER_BYTES);
  const v = new DataView(buf);
  v.setUint8(0, MAGIC0);
  v.setUint8(1, MAGIC1);
  v.setUint8(2, VERSION);
  v.setUint8(3, HEADER_BYTES);
  v.setUint32(4, 0, true); // flags: none in version 1
  v.setBigUint64(8, BigInt(frameId), true);
  v.setBigUint64(16, BigInt(captureUs), true);
  return buf;
}

/** Header + JPEG as one message body. Throws when the payload is not a JPEG (no FF D8). */
export function encodeFrame(frameId: number, captureUs: number, jpeg: ArrayBuffer | Uint8Array): Uint8Array {
  const body = jpeg instanceof Uint8Array ? jpeg : new Uint8Array(jpeg);
  if (body.length < 2 || body[0] !== 0xff || body[1] !== 0xd8)
    throw new RangeError('frame payload is not a JPEG (does not start with FF D8)');
  const out = new Uint8Array(HEADER_BYTES + body.length);
  out.set(new Uint8Array(encodeHeader(frameId, captureUs)), 0);
  out.set(body, HEADER_BYTES);
  return out;
}

export interface DecodedFrame {
  version: number;
  headerLength: number;
  flags: number;
  frameId: number;
  captureUs: number;
  jpeg: Uint8Array;
}

/** Reads a framed message as the server does (a reader skips header bytes it does not know).
 * Throws RangeError on a bad header. Used by tests and tools. */
export function decodeFrame(msg: ArrayBuffer | Uint8Array): DecodedFrame {
  const b = msg instanceof Uint8Array ? msg : new Uint8Array(msg);
  if (b.length < HEADER_BYTES) throw new RangeError(`frame of ${b.length} bytes is shorter than the header`);
  if (b[0] !== MAGIC0 || b[1] !== MAGIC1) throw new RangeError('frame does not start with "FW"');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const version = v.getUint8(2);
  const headerLength = v.getUint8(3);
  if (version !== VERSION) throw new RangeError(`unknown frame version ${version}`);
  if (headerLength < HEADER_BYTES || headerLength > b.length)
    throw new RangeError(`bad header length ${headerLength}`);
  const id = v.getBigUint64(8, true);
  const ts = v.getBigUint64(16, true);
  if (id > BigInt(Number.MAX_SAFE_INTEGER) || ts > BigInt(Number.MAX_SAFE_INTEGER))
    throw new RangeError('frame id or timestamp beyond 2^53');
  return {
    version,
    headerLength,
    flags: v.getUint32(4, true),
    frameId: Number(id),
    captureUs: Number(ts),
    jpeg: b.subarray(headerLength),
  };
}

function checkU53(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be an integer in 0..2^53, got ${n}`);
}

/** {"type":"config",...}: only the fields given are sent (older servers reject unknown ones). */
export function configMessage(cfg: Partial<SessionConfig>): string {
  const m: Record<string, unknown> = { type: 'config' };
  if (cfg.top_k !== undefined) m.top_k = cfg.top_k;
  if (cfg.policy !== undefined) m.policy = cfg.policy;
  if (cfg.max_age_ms !== undefined) m.max_age_ms = cfg.max_age_ms;
  return JSON.stringify(m);
}

/** {"type":"ping","client_ts_us":T1} for clock sync. */
export function pingMessage(clientTsUs: number): string {
  checkU53(clientTsUs, 'client_ts_us');
  return JSON.stringify({ type: 'ping', client_ts_us: clientTsUs });
}

// ---- parsing server messages: every field is checked, so the UI never renders undefined ----

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`${what} is not an object`);
  return v as Obj;
}
function num(o: Obj, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProtocolError(`${what}.${k} is not a number`);
  return v;
}
function optNum(o: Obj, k: string, what: string): number | undefined {
  return o[k] === undefined ? undefined : num(o, k, what);
}
function str(o: Obj, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new ProtocolError(`${what}.${k} is not a string`);
  return v;
}

function parseConfig(o: Obj, what: string): SessionConfig {
  const c: SessionConfig = { top_k: num(o, 'top_k', what) };
  if (o.policy !== undefined) {
    const p = str(o, 'policy', what);
    if (p !== 'realtime' && p !== 'lossless') throw new ProtocolError(`${what}.policy "${p}" is unknown`);
    c.policy = p;
  }
  const age = optNum(o, 'max_age_ms', what);
  if (age !== undefined) c.max_age_ms = age;
  return c;
}

/** Parses one text message from the server. Throws ProtocolError when it is not JSON or a field
 * is missing or of the wrong type. Message types this client does not know are returned as
 * null (a newer server may add some). */
export function parseServerMessage(text: string): ServerMessage | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProtocolError(`server message is not JSON: ${text.slice(0, 80)}`);
  }
  const o = obj(raw, 'message');
  const type = o.type;
  switch (type) {
    case 'hello': {
      const model = obj(o.model, 'hello.model');
      const limits = obj(o.limits, 'hello.limits');
      const hello: HelloMessage = {
        type,
        protocol: str(o, 'protocol', 'hello'),
        version: num(o, 'version', 'hello'),
        server: str(o, 'server', 'hello'),
        session: num(o, 'session', 'hello'),
        model: {
          name: str(model, 'name', 'hello.model'),
          input_width: num(model, 'input_width', 'hello.model'),
          input_height: num(model, 'input_height', 'hello.model'),
          labels: num(model, 'labels', 'hello.model'),
          output: str(model, 'output', 'hello.model'),
          device: str(model, 'device', 'hello.model'),
        },
        limits: {
          max_message_bytes: num(limits, 'max_message_bytes', 'hello.limits'),
          max_pixels: num(limits, 'max_pixels', 'hello.limits'),
          max_inflight: num(limits, 'max_inflight', 'hello.limits'),
          max_top_k: num(limits, 'max_top_k', 'hello.limits'),
        },
        config: parseConfig(obj(o.config, 'hello.config'), 'hello.config'),
      };
      if (hello.limits.max_inflight < 1) throw new ProtocolError('hello.limits.max_inflight is below 1');
      return hello;
    }
    case 'result': {
      const t = obj(o.timing_us, 'result.timing_us');
      if (!Array.isArray(o.top)) throw new ProtocolError('result.top is not an array');
      return {
        type,
        frame_id: num(o, 'frame_id', 'result'),
        capture_ts_us: num(o, 'capture_ts_us', 'result'),
        top: o.top.map((c, i) => {
          const co = obj(c, `result.top[${i}]`);
          return {
            label: str(co, 'label', `result.top[${i}]`),
            index: num(co, 'index', `result.top[${i}]`),
            prob: num(co, 'prob', `result.top[${i}]`),
          };
        }),
        timing_us: {
          queue: num(t, 'queue', 'result.timing_us'),
          decode: num(t, 'decode', 'result.timing_us'),
          preprocess: num(t, 'preprocess', 'result.timing_us'),
          wait: num(t, 'wait', 'result.timing_us'),
          infer: num(t, 'infer', 'result.timing_us'),
          total: num(t, 'total', 'result.timing_us'),
        },
        batch: num(o, 'batch', 'result'),
        server_rx_ts_us: optNum(o, 'server_rx_ts_us', 'result'),
        server_tx_ts_us: optNum(o, 'server_tx_ts_us', 'result'),
      };
    }
    case 'error': {
      const id = o.frame_id;
      if (id !== null && typeof id !== 'number') throw new ProtocolError('error.frame_id is neither a number nor null');
      return { type, frame_id: id, code: str(o, 'code', 'error'), message: str(o, 'message', 'error') };
    }
    case 'dropped':
      return { type, frame_id: num(o, 'frame_id', 'dropped'), reason: str(o, 'reason', 'dropped') };
    case 'config':
      return { type, ...parseConfig(o, 'config') };
    case 'pong':
      return {
        type,
        client_ts_us: num(o, 'client_ts_us', 'pong'),
        server_rx_ts_us: num(o, 'server_rx_ts_us', 'pong'),
        server_tx_ts_us: num(o, 'server_tx_ts_us', 'pong'),
      };
    case 'stats':
      return {
        type,
        window_ms: num(o, 'window_ms', 'stats'),
        fps_in: num(o, 'fps_in', 'stats'),
        fps_out: num(o, 'fps_out', 'stats'),
        server_p50_us: num(o, 'server_p50_us', 'stats'),
        server_p99_us: num(o, 'server_p99_us', 'stats'),
        frames: num(o, 'frames', 'stats'),
        results: num(o, 'results', 'stats'),
        errors: num(o, 'errors', 'stats'),
        dropped_superseded: num(o, 'dropped_superseded', 'stats'),
        dropped_stale: num(o, 'dropped_stale', 'stats'),
      };
    default:
      if (typeof type !== 'string') throw new ProtocolError('message has no string "type"');
      return null;
  }
}
