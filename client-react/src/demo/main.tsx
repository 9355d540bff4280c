// main.tsx - entry of the demo app (index.html loads it).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '../lib/style.css';
import './demo.css';
import { App } from './App';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
