// UploadClassify.tsx - the demo's single-image upload: POST /v1/classify with the picked image
// and show the result or a readable error (400 bad image, 413 too large, 503 busy, …).

import { useState } from 'react';
import { classifyImage, RestError, toJpeg, type RestResult } from '../lib/rest';
import { fmtMs, fmtPct } from '../lib/format';

export function UploadClassify({ topK = 5, token, baseUrl }: { topK?: number; token?: string; baseUrl?: string }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<RestResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [preview, setPreview] = useState<string | null>(null);

  async function onFile(file: File | undefined) {
    if (!file) return;
    setBusy(true);
    setError(null);
    setResult(null);
    if (preview) URL.revokeObjectURL(preview);
    setPreview(URL.createObjectURL(file));
    try {
      setResult(await classifyImage(await toJpeg(file), { topK, token, baseUrl }));
    } catch (e) {
      setError(e instanceof RestError ? e.message : `could not classify: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="demo-upload">
      <h2>Classify one image</h2>
      <p>
        Posts the file to <code>POST /v1/classify</code> with <code>fetch</code>, the one-shot REST path.
      </p>
      <input data-testid="upload-input" type="file" accept="image/*" onChange={(e) => onFile(e.target.files?.[0])} />
      <div className="demo-upload-out">
        {preview && <img src={preview} alt="uploaded" className="demo-upload-img" />}
        <div>
          {busy && <p>classifying…</p>}
          {error && (
            <p className="fw-error" data-testid="upload-error">
              {error}
            </p>
          )}
          {result && (
            <div data-testid="upload-result">
              <ol className="fw-top">
                {result.top.map((c, i) => (
                  <li key={c.index} data-testid="upload-label" data-label={c.label} data-prob={c.prob} className={i === 0 ? 'fw-first' : undefined}>
                    <span className="fw-label-name">{c.label}</span>
                    <span className="fw-label-prob">{fmtPct(c.prob)}</span>
                    <span className="fw-bar" style={{ width: `${c.prob * 100}%` }} />
                  </li>
                ))}
              </ol>
              <p className="fw-hud">
                server {fmtMs(result.timing_us.total / 1000)} · round trip {fmtMs(result.roundTripMs)}
              </p>
            </div>
          )}
        </div>
      </div>
    </section>
  );
}
