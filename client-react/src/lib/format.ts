// format.ts - number formatting for the overlay and panels ("n/a" for what is not known).

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return 'n/a';
  const a = Math.abs(ms);
  return `${a < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
}

export function fmtUsAsMs(us: number | null | undefined): string {
  return us === null || us === undefined ? 'n/a' : fmtMs(us / 1000);
}

export function fmtFps(fps: number | null | undefined): string {
  if (fps === null || fps === undefined || !Number.isFinite(fps)) return 'n/a';
  return fps.toFixed(1);
}

export function fmtPct(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}
