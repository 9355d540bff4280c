// main.tsx - embedding framewire in your own React app: the ready-made component, and the hook
// for your own UI (here a one-line status that shares nothing with the component).
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { CameraClassifier, type ResultView } from '@framewire/react';
import '@framewire/react/style.css';

function App() {
  const [last, setLast] = useState<ResultView | null>(null);
  return (
    <main>
      <h1>My app</h1>
      <p data-testid="embed-last">{last ? `${last.top[0].label} (frame ${last.frameId})` : 'no result yet'}</p>
      <CameraClassifier topK={3} maxFps={15} onResult={setLast} />
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
