// TopKOverlay.tsx - drawn over the video: the top-k labels with score bars, the result rate and
// the capture → result latency.

import type { ResultView } from './client';
import { fmtFps, fmtMs, fmtPct } from './format';

export interface TopKOverlayProps {
  result: ResultView | null;
  fps: number;
  /** shown instead of labels when there is no result yet */
  placeholder?: string;
}

export function TopKOverlay({ result, fps, placeholder }: TopKOverlayProps) {
  return (
    <div className="fw-overlay" data-testid="fw-overlay" data-frame-id={result?.frameId ?? ''}>
      {result ? (
        <ol className="fw-top">
          {result.top.map((c, i) => (
            <li key={c.index} data-testid="fw-label" data-label={c.label} data-prob={c.prob} className={i === 0 ? 'fw-first' : undefined}>
              <span className="fw-label-name">{c.label}</span>
              <span className="fw-label-prob">{fmtPct(c.prob)}</span>
              <span className="fw-bar" style={{ width: `${Math.max(0, Math.min(100, c.prob * 100))}%` }} />
            </li>
          ))}
        </ol>
      ) : (
        <p className="fw-placeholder">{placeholder ?? 'waiting for results…'}</p>
      )}
      <p className="fw-hud">
        <span data-testid="fw-fps">{fmtFps(fps)} fps</span>
        {' · '}
        <span data-testid="fw-latency">{fmtMs(result?.latency.totalMs)}</span>
      </p>
    </div>
  );
}
