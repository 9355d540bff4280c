// protocol.test.ts - the binary frame header and the JSON messages, against docs/protocol.md.
import { describe, expect, it } from 'vitest';
import {
  configMessage,
  decodeFrame,
  encodeFrame,
  encodeHeader,
  HEADER_BYTES,
  parseServerMessage,
  pingMessage,
  ProtocolError,
} from '../src/lib/protocol';

describe('frame header', () => {
  it('is 24 bytes little-endian: "FW", version 1, length 24, flags 0, id, capture time', () => {
    const h = new Uint8Array(encodeHeader(0x0102030405, 0x1122334455667));
    expect(HEADER_BYTES).toBe(24);
    expect([...h]).toEqual([
      0x46, 0x57, 1, 24, 0, 0, 0, 0, 0x05, 0x04, 0x03, 0x02, 0x01, 0, 0, 0, 0x67, 0x56, 0x45, 0x34, 0x23, 0x12, 0x01, 0,
    ]);
  });

  it('round-trips id, timestamp and payload, including 2^53-1', () => {
    const jpeg = new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);
    for (const [id, ts] of [
      [1, 1764790000123456],
      [Number.MAX_SAFE_INTEGER, 0],
    ]) {
      const f = decodeFrame(encodeFrame(id, ts, jpeg));
      expect(f.frameId).toBe(id);
      expect(f.captureUs).toBe(ts);
      expect(f.headerLength).toBe(24);
      expect([...f.jpeg]).toEqual([...jpeg]);
    }
  });

  it('refuses what the server would reject', () => {
    expect(() => encodeFrame(1, 0, new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toThrow(/not a JPEG/);
    expect(() => encodeFrame(1, 0, new Uint8Array([]))).toThrow(/not a JPEG/);
    expect(() => encodeHeader(-1, 0)).toThrow(RangeError);
    expect(() => encodeHeader(1.5, 0)).toThrow(RangeError);
    expect(() => encodeHeader(2 ** 53, 0)).toThrow(RangeError);
  });

  it('a reader skips header fields it does not know (longer header), and rejects bad ones', () => {
    const long = new Uint8Array(32 + 4);
    long.set(new Uint8Array(encodeHeader(7, 9)), 0);
    long[3] = 32;
    long.set([0xff, 0xd8, 0xff, 0xd9], 32);
    const f = decodeFrame(long);
    expect(f.frameId).toBe(7);
    expect([...f.jpeg]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
    const bad = (mut: (b: Uint8Array) => void) => {
      const b = encodeFrame(1, 2, new Uint8Array([0xff, 0xd8]));
      mut(b);
      return () => decodeFrame(b);
    };
    expect(bad((b) => (b[0] = 0))).toThrow(/FW/);
    expect(bad((b) => (b[2] = 2))).toThrow(/version/);
    expect(bad((b) => (b[3] = 23))).toThrow(/header length/);
    expect(bad((b) => (b[3] = 200))).toThrow(/header length/);
    expect(() => decodeFrame(new Uint8Array(10))).toThrow(/shorter/);
  });
});

describe('client messages', () => {
  it('config carries only the fields given', () => {
    expect(JSON.parse(configMessage({ top_k: 3 }))).toEqual({ type: 'config', top_k: 3 });
    expect(JSON.parse(configMessage({ top_k: 3, policy: 'lossless', max_age_ms: 500 }))).toEqual({
      type: 'config',
      top_k: 3,
      policy: 'lossless',
      max_age_ms: 500,
    });
    expect(JSON.parse(configMessage({}))).toEqual({ type: 'config' });
  });
  it('ping carries the client time', () => {
    expect(JSON.parse(pingMessage(1234567))).toEqual({ type: 'ping', client_ts_us: 1234567 });
  });
});

describe('server messages', () => {
  const hello = {
    type: 'hello',
    protocol: 'framewire.v1',
    version: 1,
    server: 'framewire 0.1.0',
    session: 1,
    model: { name: 'tiny-test', input_width: 32, input_height: 32, labels: 4, output: 'logits', device: 'cpu' },
    limits: { max_message_bytes: 8388608, max_pixels: 16777216, max_inflight: 4, max_top_k: 100 },
    config: { top_k: 5, policy: 'realtime', max_age_ms: 0 },
  };
  const result = {
    type: 'result',
    frame_id: 17,
    capture_ts_us: 1764790000123456,
    top: [
      { label: 'red', index: 0, prob: 0.612345 },
      { label: 'dark', index: 3, prob: 0.2 },
    ],
    timing_us: { queue: 45, decode: 810, preprocess: 95, wait: 12, infer: 640, total: 1650 },
    batch: 2,
    server_rx_ts_us: 1764790000125000,
    server_tx_ts_us: 1764790000126650,
  };

  it('parses every documented message', () => {
    expect(parseServerMessage(JSON.stringify(hello))).toEqual(hello);
    expect(parseServerMessage(JSON.stringify(result))).toEqual(result);
    const oldResult = { ...result } as Record<string, unknown>;
    delete oldResult.server_rx_ts_us;
    delete oldResult.server_tx_ts_us;
    const parsed = parseServerMessage(JSON.stringify(oldResult));
    expect(parsed).toMatchObject({ type: 'result', frame_id: 17, server_rx_ts_us: undefined });
    const err = { type: 'error', frame_id: 18, code: 'truncated_jpeg', message: 'truncated' };
    expect(parseServerMessage(JSON.stringify(err))).toEqual(err);
    expect(parseServerMessage(JSON.stringify({ ...err, frame_id: null }))).toEqual({ ...err, frame_id: null });
    const dropped = { type: 'dropped', frame_id: 5, reason: 'superseded' };
    expect(parseServerMessage(JSON.stringify(dropped))).toEqual(dropped);
    const pong = { type: 'pong', client_ts_us: 1, server_rx_ts_us: 2, server_tx_ts_us: 3 };
    expect(parseServerMessage(JSON.stringify(pong))).toEqual(pong);
    const stats = {
      type: 'stats',
      window_ms: 1000,
      fps_in: 29.8,
      fps_out: 29.5,
      server_p50_us: 2100,
      server_p99_us: 5400,
      frames: 100,
      results: 98,
      errors: 0,
      dropped_superseded: 2,
      dropped_stale: 0,
    };
    expect(parseServerMessage(JSON.stringify(stats))).toEqual(stats);
    expect(parseServerMessage('{"type":"config","top_k":3,"policy":"lossless","max_age_ms":0}')).toEqual({
      type: 'config',
      top_k: 3,
      policy: 'lossless',
      max_age_ms: 0,
    });
  });

  it('returns null for message types it does not know (a newer server)', () => {
    expect(parseServerMessage('{"type":"future","x":1}')).toBeNull();
  });

  it('rejects what breaks the protocol, naming the field', () => {
    const bad = (o: unknown) => () => parseServerMessage(typeof o === 'string' ? o : JSON.stringify(o));
    expect(bad('not json')).toThrow(ProtocolError);
    expect(bad([1, 2])).toThrow(/not an object/);
    expect(bad({ x: 1 })).toThrow(/type/);
    expect(bad({ ...result, top: 'red' })).toThrow(/result.top/);
    expect(bad({ ...result, top: [{ label: 'red', index: 0 }] })).toThrow(/result.top\[0\].prob/);
    expect(bad({ ...result, timing_us: { ...result.timing_us, infer: '1' } })).toThrow(/timing_us.infer/);
    expect(bad({ ...result, server_rx_ts_us: 'soon' })).toThrow(/server_rx_ts_us/);
    expect(bad({ ...hello, limits: { ...hello.limits, max_inflight: 0 } })).toThrow(/max_inflight/);
    expect(bad({ ...hello, model: null })).toThrow(/hello.model/);
    expect(bad({ ...hello, config: { top_k: 5, policy: 'sometimes' } })).toThrow(/policy/);
    expect(bad({ type: 'error', frame_id: '3', code: 'x', message: 'y' })).toThrow(/frame_id/);
    expect(bad({ type: 'stats', window_ms: 1000 })).toThrow(/stats.fps_in/);
    expect(bad({ ...result, frame_id: Infinity })).toThrow(); // JSON has no Infinity: becomes null
  });
});
