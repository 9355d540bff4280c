// rest.ts - one-shot classification over HTTP: POST a JPEG to /v1/classify (the `fetch` path of a
// classic Flask + React setup). Errors become a RestError with a message a person can read.

import { parseServerMessage, type ClassScore, type TimingUs } from './protocol';

export interface RestResult {
  top: ClassScore[];
  timing_us: TimingUs;
  /** request → response in the browser, ms */
  roundTripMs: number;
}

export class RestError extends Error {
  constructor(
    message: string,
    /** HTTP status (0 when the server could not be reached) */
    readonly status: number,
    /** framewire's error code when it sent one */
    readonly code: string | null,
  ) {
    super(message);
    this.name = 'RestError';
  }
}

export interface ClassifyOptions {
  /** server origin, e.g. http://localhost:8080 (default: the page's own) */
  baseUrl?: string;
  topK?: number;
  /** bearer token when the server runs with --token */
  token?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** Re-encodes a non-JPEG image (PNG, WebP, …) as JPEG in the browser; JPEGs go as they are. */
export async function toJpeg(file: Blob, quality = 0.92): Promise<Blob> {
  if (file.type === 'image/jpeg' || file.type === '' || !file.type.startsWith('image/')) return file;
  const bmp = await createImageBitmap(file);
  const c = document.createElement('canvas');
  c.width = bmp.width;
  c.height = bmp.height;
  c.getContext('2d')!.drawImage(bmp, 0, 0);
  bmp.close();
  return new Promise((resolve, reject) =>
    c.toBlob((b) => (b ? resolve(b) : reject(new Error('could not encode the image as JPEG'))), 'image/jpeg', quality),
  );
}

export async function classifyImage(image: Blob, opts: ClassifyOptions = {}): Promise<RestResult> {
  const f = opts.fetch ?? fetch;
  const base = opts.baseUrl ?? '';
  const q = opts.topK ? `?top_k=${encodeURIComponent(opts.topK)}` : '';
  const t0 = performance.now();
  let res: Response;
  try {
    res = await f(`${base}/v1/classify${q}`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/jpeg', ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}) },
      body: image,
      signal: opts.signal,
    });
  } catch (e) {
    throw new RestError(`could not reach the server: ${(e as Error).message}`, 0, null);
  }
  const text = await res.text();
  const roundTripMs = performance.now() - t0;
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: handled below */
  }
  if (!res.ok) throw restError(res.status, body, text);
  const msg = (() => {
    try {
      // Only `top` and `timing_us` matter here; the stream fields (frame id, …) may be absent.
      const b = body as { top?: unknown; timing_us?: unknown };
      const asStream = { type: 'result', frame_id: 0, capture_ts_us: 0, batch: 1, top: b.top, timing_us: b.timing_us };
      return parseServerMessage(JSON.stringify(asStream));
    } catch {
      return null;
    }
  })();
  if (!body || !msg || msg.type !== 'result')
    throw new RestError(`the server's answer is not a classification: ${text.slice(0, 120)}`, res.status, null);
  return { top: msg.top, timing_us: msg.timing_us, roundTripMs };
}

function restError(status: number, body: unknown, text: string): RestError {
  const b = (body && typeof body === 'object' ? body : {}) as { code?: unknown; message?: unknown };
  const code = typeof b.code === 'string' ? b.code : null;
  const detail = typeof b.message === 'string' ? b.message : text.trim().slice(0, 200) || `HTTP ${status}`;
  switch (status) {
    case 400:
      return new RestError(`the server could not use this image (${code ?? 'bad request'}): ${detail}`, status, code);
    case 401:
      return new RestError(`the server wants a token (framewire --token): ${detail}`, status, code);
    case 404:
      return new RestError('this server has no /v1/classify endpoint (an older framewire?)', status, code);
    case 413:
      return new RestError(`the image is too large for the server: ${detail}`, status, code);
    case 503:
      return new RestError(`the server is busy, try again in a moment: ${detail}`, status, code);
    default:
      return new RestError(`the server answered ${status}: ${detail}`, status, code);
  }
}
