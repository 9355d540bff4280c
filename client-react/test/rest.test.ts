// rest.test.ts - classifyImage over a real HTTP server: the request it makes, results, and a
// readable error for each failure (400, 401, 413, 503, 404, not JSON, unreachable).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyImage, RestError } from '../src/lib/rest';

let base = '';
let srv: http.Server;
const seen: { url?: string; method?: string; type?: string; auth?: string; body: Buffer }[] = [];

beforeAll(async () => {
  srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      seen.push({ url: req.url, method: req.method, type: req.headers['content-type'], auth: req.headers.authorization, body: Buffer.concat(chunks) });
      const want = Number(new URL(req.url!, 'http://x').searchParams.get('status') ?? 200);
      const json = (status: number, o: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(o));
      };
      if (want === 200)
        json(200, {
          type: 'result',
          top: [{ label: 'red', index: 0, prob: 0.75 }],
          timing_us: { queue: 0, decode: 800, preprocess: 100, wait: 0, infer: 500, total: 1400 },
          batch: 1,
        });
      else if (want === 299) json(200, { hello: 'world' });
      else if (want === 404) res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      else if (want === 502) res.writeHead(502).end('<html>bad gateway</html>');
      else json(want, { type: 'error', code: { 400: 'not_jpeg', 401: 'unauthorized', 413: 'image_too_large', 503: 'overloaded' }[want], message: `msg ${want}` });
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => srv.close(() => r())));

const jpeg = new Blob([new Uint8Array([0xff, 0xd8, 1, 2, 0xff, 0xd9])], { type: 'image/jpeg' });
// the fake server picks its answer from ?status=; classifyImage adds ?top_k=
const at = (status: number) => `${base}/v1/classify?status=${status}&`;

describe('classifyImage', () => {
  it('POSTs the JPEG to /v1/classify with top_k and a bearer token, and returns the result', async () => {
    const r = await classifyImage(jpeg, { baseUrl: base, topK: 3, token: 'tok' });
    const req = seen.at(-1)!;
    expect(req).toMatchObject({ url: '/v1/classify?top_k=3', method: 'POST', type: 'image/jpeg', auth: 'Bearer tok' });
    expect([...req.body]).toEqual([0xff, 0xd8, 1, 2, 0xff, 0xd9]);
    expect(r.top).toEqual([{ label: 'red', index: 0, prob: 0.75 }]);
    expect(r.timing_us.total).toBe(1400);
    expect(r.roundTripMs).toBeGreaterThan(0);
  });

  it.each([
    [400, /could not use this image \(not_jpeg\): msg 400/],
    [401, /wants a token/],
    [413, /too large for the server: msg 413/],
    [503, /busy, try again .*msg 503/],
    [404, /no \/v1\/classify endpoint/],
    [502, /answered 502: <html>bad gateway/],
    [299, /not a classification/],
  ])('HTTP %i gives a readable error', async (status, re) => {
    // route through a fetch that rewrites the URL so the fake server sees ?status=
    const f: typeof fetch = (input, init) => fetch(String(input).replace(`${base}/v1/classify?`, at(status)), init);
    const e = await classifyImage(jpeg, { baseUrl: base, topK: 1, fetch: f }).catch((x) => x);
    expect(e).toBeInstanceOf(RestError);
    expect(e.message).toMatch(re);
    expect(e.status).toBe(status === 299 ? 200 : status);
  });

  it('an unreachable server gives status 0 and says so', async () => {
    const e = await classifyImage(jpeg, { baseUrl: 'http://127.0.0.1:1' }).catch((x) => x);
    expect(e).toBeInstanceOf(RestError);
    expect(e.status).toBe(0);
    expect(e.message).toMatch(/could not reach the server/);
  });
});
