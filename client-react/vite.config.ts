// vite.config.ts - builds the demo app (index.html → dist/), which framewire serves at /
// (scripts/run.sh passes --static-dir client-react/dist). Also the Vitest settings.
import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // framewire's static server sends files as they are: keep the bundle plain and small.
    sourcemap: false,
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
