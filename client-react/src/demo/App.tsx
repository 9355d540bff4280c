// App.tsx - framewire's demo page: the CameraClassifier on the server that serves the page, and
// a single-image upload through the REST endpoint. URL parameters (for trying things and for the
// browser test): ?fps=N max frame rate, ?quality=Q, ?latency=MS adaptation target, ?topk=K,
// ?adapt=0 to turn adaptation off, ?token=T for a server started with --token T,
// ?server=ws://host:port/ for a framewire other than the page's own (e.g. under `npm run dev`).

import { CameraClassifier } from '../lib/CameraClassifier';
import { UploadClassify } from './UploadClassify';

function numParam(p: URLSearchParams, k: string): number | undefined {
  const v = p.get(k);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function App() {
  const p = new URLSearchParams(location.search);
  const token = p.get('token') ?? undefined;
  const server = p.get('server') ?? undefined; // ws://host:port/
  const httpBase = server ? server.replace(/^ws/, 'http').replace(/\/$/, '') : undefined;
  return (
    <main>
      <header>
        <h1>framewire</h1>
        <p>
          Your camera (or a video file) streams JPEG frames over a WebSocket to framewire, which decodes them,
          runs the model and answers every frame.
        </p>
      </header>
      <CameraClassifier
        url={server}
        token={token}
        topK={numParam(p, 'topk') ?? 3}
        maxFps={numParam(p, 'fps') ?? 30}
        quality={numParam(p, 'quality') ?? 0.8}
        targetLatencyMs={numParam(p, 'latency')}
        adapt={p.get('adapt') !== '0'}
      />
      <UploadClassify topK={numParam(p, 'topk') ?? 5} token={token} baseUrl={httpBase} />
    </main>
  );
}
