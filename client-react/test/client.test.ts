// client.test.ts - FramewireClient's state machine (what useFramewire exposes) against scripted
// framewire.v1 servers on real sockets: hello and the in-flight cap, answer matching, config,
// clock sync (and its absence), reconnect with backoff, hello timeout, protocol errors.
import { afterEach, describe, expect, it } from 'vitest';
import { FramewireClient, withToken, type FramewireOptions } from '../src/lib/client';
import { fakeJpeg, nodeSockets, scriptedServer, sleep, until, type Scripted } from './helpers';

const servers: Scripted[] = [];
const clients: FramewireClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(h: Parameters<typeof scriptedServer>[0], port = 0) {
  const s = await scriptedServer(h, port);
  servers.push(s);
  return s;
}
function client(o: Partial<FramewireOptions> & { url: string }) {
  const c = new FramewireClient({ webSocket: nodeSockets, backoff: { baseMs: 20, maxMs: 200, jitter: 0 }, ...o });
  clients.push(c);
  return c;
}
const snap = (c: FramewireClient) => c.getSnapshot();

describe('FramewireClient', () => {
  it('connects with the framewire.v1 subprotocol and is ready after hello', async () => {
    const s = await serve({ onConn: (c) => setTimeout(() => c.hello(), 30) });
    const c = client({ url: s.url });
    expect(snap(c).state).toBe('idle');
    c.connect();
    expect(snap(c).state).toBe('connecting');
    expect(c.beginFrame()).toBeNull(); // nothing may be sent before hello
    await until(() => snap(c).state === 'ready', 'ready');
    expect(s.conns[0].protocol).toBe('framewire.v1');
    expect(snap(c).hello?.model.name).toBe('m');
    expect(snap(c).maxInflight).toBe(2); // min(client default 2, server 4)
  });

  it('never keeps more frames in flight than the server allows; answers free the slots', async () => {
    const s = await serve({ onConn: (c) => c.hello({ max_inflight: 3 }) });
    const c = client({ url: s.url, maxInflight: 10 });
    c.connect();
    await until(() => snap(c).state === 'ready', 'ready');
    expect(snap(c).maxInflight).toBe(3); // the server's hint caps the client's 10
    const t = [c.beginFrame(), c.beginFrame(), c.beginFrame()];
    expect(t.every(Boolean)).toBe(true);
    expect(c.beginFrame()).toBeNull(); // reserved slots count before the JPEG is even encoded
    t[0]!.cancel(); // encoder failed: the slot comes back
    const t4 = c.beginFrame()!;
    expect(t4).not.toBeNull();
    const jpeg = fakeJpeg(300);
    for (const x of [t[1]!, t[2]!, t4]) expect(x.send(jpeg)).toBe(true);
    expect(t4.send(jpeg)).toBe(false); // a ticket sends once
    expect(c.beginFrame()).toBeNull();
    await until(() => s.conns[0].frames.length === 3, 'frames at the server');
    const f = s.conns[0].frames;
    expect(f.map((x) => x.frameId)).toEqual([t[1]!.id, t[2]!.id, t4.id]);
    expect(f[0].captureUs).toBe(t[1]!.captureUs);
    expect([...f[0].jpeg]).toEqual([...jpeg]);
    // one of each answer kind frees one slot each
    s.conns[0].result(f[0].frameId);
    s.conns[0].send({ type: 'error', frame_id: f[1].frameId, code: 'corrupt_jpeg', message: 'bad' });
    s.conns[0].send({ type: 'dropped', frame_id: f[2].frameId, reason: 'superseded' });
    await until(() => snap(c).inflight === 0, 'all answered');
    expect(snap(c).counts).toMatchObject({ sent: 3, results: 1, errors: 1, dropped: 1 });
    expect(snap(c).lastError).toMatchObject({ code: 'corrupt_jpeg', frameId: f[1].frameId });
    // answers for ids it never sent do not free anything nor count
    s.conns[0].result(999999);
    await sleep(30);
    expect(snap(c).counts.results).toBe(1);
  });

  it('shows the newest frame\'s result when answers overtake each other', async () => {
    const s = await serve({ onConn: (c) => c.hello() });
    const c = client({ url: s.url });
    c.connect();
    await until(() => snap(c).state === 'ready', 'ready');
    const a = c.beginFrame()!;
    const b = c.beginFrame()!;
    a.send(fakeJpeg());
    b.send(fakeJpeg());
    await until(() => s.conns[0].frames.length === 2, 'frames');
    s.conns[0].result(b.id, 'blue');
    await until(() => snap(c).result?.frameId === b.id, 'b shown');
    s.conns[0].result(a.id, 'red');
    await until(() => snap(c).counts.results === 2, 'a answered');
    expect(snap(c).result?.top[0].label).toBe('blue');
  });

  it('sends config only for settings that differ from the server\'s, and on change', async () => {
    const s = await serve({
      onConn: (c) => c.hello({ top_k: 5 }),
      onText: (c, m) => m.type === 'config' && c.send({ type: 'config', top_k: m.top_k ?? 5, policy: 'realtime', max_age_ms: 0 }),
    });
    const c = client({ url: s.url, topK: 3, clockSync: { burst: 0, intervalMs: 60000 } });
    c.connect();
    await until(() => snap(c).config?.top_k === 3, 'top_k 3 confirmed');
    c.setConfig({ top_k: 3 }); // the same: nothing sent
    c.setConfig({ top_k: 7 });
    await until(() => snap(c).config?.top_k === 7, 'top_k 7 confirmed');
    expect(s.conns[0].texts.filter((m) => m.type === 'config')).toEqual([
      { type: 'config', top_k: 3 },
      { type: 'config', top_k: 7 },
    ]);
  });

  it('syncs clocks with ping/pong and splits latency into uplink, server, downlink', async () => {
    const ahead = 3_000_000; // the server's clock is 3 s ahead
    const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
    const s = await serve({
      onConn: (c) => c.hello(),
      onText: (c, m) => {
        if (m.type !== 'ping') return;
        const t = now() + ahead;
        c.send({ type: 'pong', client_ts_us: m.client_ts_us, server_rx_ts_us: t, server_tx_ts_us: t + 100 });
      },
      onFrame: (c, f) => {
        const rx = now() + ahead;
        setTimeout(() => c.result(f.frameId, 'red', { server_rx_ts_us: rx, server_tx_ts_us: now() + ahead }), 20);
      },
    });
    const c = client({ url: s.url, clockSync: { burst: 4, burstGapMs: 10 } });
    c.connect();
    await until(() => (snap(c).clock ? true : false) && s.conns[0].texts.filter((m) => m.type === 'ping').length >= 4, 'pongs');
    expect(Math.abs(snap(c).clock!.offsetUs - ahead)).toBeLessThan(20_000);
    const t = c.beginFrame()!;
    t.send(fakeJpeg());
    await until(() => snap(c).result !== null, 'result');
    const l = snap(c).result!.latency;
    expect(l.uplinkMs).not.toBeNull();
    expect(l.downlinkMs).not.toBeNull();
    expect(l.serverMs).toBeGreaterThanOrEqual(15); // the server held it 20 ms
    expect(Math.abs(l.uplinkMs!)).toBeLessThan(20); // loopback: small, whatever the 3 s offset
    expect(Math.abs(l.downlinkMs!)).toBeLessThan(20);
    expect(l.encodeMs + l.uplinkMs! + l.serverMs + l.downlinkMs!).toBeCloseTo(l.totalMs, 0);
  });

  it('a server without clock sync: pings stop after 3 unanswered, latency split stays n/a', async () => {
    const s = await serve({
      onConn: (c) => c.hello(),
      onText: (c, m) => m.type === 'ping' && c.send({ type: 'error', frame_id: null, code: 'bad_message', message: 'unknown type' }),
      onFrame: (c, f) => c.result(f.frameId),
    });
    const c = client({ url: s.url, clockSync: { burst: 10, burstGapMs: 5 } });
    c.connect();
    await until(() => !snap(c).clockSupported, 'clock sync given up');
    await sleep(50);
    expect(s.conns[0].texts.filter((m) => m.type === 'ping').length).toBe(3);
    c.beginFrame()!.send(fakeJpeg());
    await until(() => snap(c).result !== null, 'result');
    expect(snap(c).result!.latency.uplinkMs).toBeNull();
    expect(snap(c).result!.latency.serverMs).toBe(0.015); // timing_us.total
    expect(snap(c).state).toBe('ready');
  });

  it('reconnects with growing backoff while the server is down, and resumes', async () => {
    const s = await serve({ onConn: (c) => c.hello() });
    const port = s.port;
    const c = client({ url: s.url, backoff: { baseMs: 30, maxMs: 1000, jitter: 0 } });
    c.connect();
    await until(() => snap(c).state === 'ready', 'ready');
    const stale = c.beginFrame()!;
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    await until(() => snap(c).state === 'reconnecting', 'reconnecting');
    expect(snap(c).inflight).toBe(0); // frames of the dead connection are forgotten
    expect(stale.send(fakeJpeg())).toBe(false); // and their tickets are void
    const delays: number[] = [];
    await until(
      () => {
        const r = snap(c).retryInMs;
        if (r !== null && delays[delays.length - 1] !== r) delays.push(r);
        return delays.length >= 3;
      },
      'three retries',
    );
    expect(delays.slice(0, 3)).toEqual([30, 60, 120]); // refused connections: 30 · 2^(n-1)
    const s2 = await serve({ onConn: (c2) => c2.hello() }, port);
    await until(() => snap(c).state === 'ready', 'ready again', 5000);
    expect(snap(c).attempt).toBe(0);
    expect(snap(c).counts.reconnects).toBeGreaterThanOrEqual(3);
    const t = c.beginFrame()!;
    expect(t.send(fakeJpeg())).toBe(true);
    await until(() => s2.conns.at(-1)!.frames.length === 1, 'frame on the new server');
    expect(s2.conns.at(-1)!.frames[0].frameId).toBeGreaterThan(stale.id); // ids never repeat
  });

  it('server full (1008): waits and retries, with the reason shown', async () => {
    let n = 0;
    const s = await serve({
      onConn: (c) => {
        if (n++ === 0) c.ws.close(1008, 'server full, try again later');
        else c.hello();
      },
    });
    const c = client({ url: s.url });
    c.connect();
    await until(() => snap(c).lastClose?.code === 1008, 'closed 1008');
    expect(snap(c).lastClose?.reason).toBe('server full, try again later');
    await until(() => snap(c).state === 'ready', 'ready on the second try');
  });

  it('no hello in time: closes and retries', async () => {
    let n = 0;
    const s = await serve({ onConn: (c) => n++ > 0 && c.hello() });
    const c = client({ url: s.url, helloTimeoutMs: 50 });
    c.connect();
    await until(() => snap(c).lastError?.code === 'no_hello', 'hello timeout');
    await until(() => snap(c).state === 'ready', 'ready on the retry');
    expect(s.conns.length).toBe(2);
  });

  it('ignores messages that break the protocol, counts them, and carries on', async () => {
    const s = await serve({
      onConn: (c) => {
        c.hello();
        c.ws.send('{"type":"result","frame_id":"x"}');
        c.ws.send('not json at all');
        c.ws.send(Buffer.from([1, 2, 3]));
        c.send({ type: 'stats', window_ms: 1000, fps_in: 1, fps_out: 1, server_p50_us: 1, server_p99_us: 2, frames: 1, results: 1, errors: 0, dropped_superseded: 0, dropped_stale: 0 });
      },
    });
    const c = client({ url: s.url });
    c.connect();
    await until(() => snap(c).serverStats !== null, 'stats');
    expect(snap(c).counts.protocolErrors).toBe(3);
    expect(snap(c).state).toBe('ready');
  });

  it('close() is final: no reconnect', async () => {
    const s = await serve({ onConn: (c) => c.hello() });
    const c = client({ url: s.url });
    c.connect();
    await until(() => snap(c).state === 'ready', 'ready');
    c.close();
    expect(snap(c).state).toBe('closed');
    expect(c.beginFrame()).toBeNull();
    await sleep(100);
    expect(s.conns.length).toBe(1);
    c.connect(); // and can be opened again (React StrictMode mounts twice)
    await until(() => snap(c).state === 'ready', 'ready again');
  });

  it('frames over the server\'s max_message_bytes are not sent', async () => {
    const s = await serve({ onConn: (c) => c.hello() });
    const c = client({ url: s.url });
    c.connect();
    await until(() => snap(c).state === 'ready', 'ready');
    const t = c.beginFrame()!;
    expect(t.send(fakeJpeg((1 << 20) - 10))).toBe(false);
    expect(snap(c).lastError?.code).toBe('frame_too_large');
    expect(snap(c).inflight).toBe(0);
  });

  it('puts a token in the URL (browsers cannot set WebSocket headers)', async () => {
    const s = await serve({ onConn: (c) => c.hello() });
    expect(withToken('ws://h:1/', 'a b')).toBe('ws://h:1/?token=a+b');
    const c = client({ url: s.url, token: 's3cret' });
    c.connect();
    await until(() => snap(c).state === 'ready', 'ready');
    expect(s.conns[0].url).toBe('/?token=s3cret');
  });
});
