// vite.config.ts - an ordinary Vite + React app. `dedupe` keeps one React when
// @framewire/react is linked from a folder (npm install path/to/client-react).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  base: './',
  resolve: { dedupe: ['react', 'react-dom'] },
});
