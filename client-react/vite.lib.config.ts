// vite.lib.config.ts - builds the library that other React apps import (`npm run build:lib`):
// dist-lib/framewire-react.js (ES module, React left to the app) and dist-lib/framewire-react.css.
// Types come from `tsc -p tsconfig.lib.json` into dist-lib/types.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist-lib',
    emptyOutDir: true,
    lib: {
      entry: 'src/lib/entry.ts',
      formats: ['es'],
      fileName: () => 'framewire-react.js',
      cssFileName: 'framewire-react',
    },
    rollupOptions: {
      external: ['react', 'react-dom', 'react/jsx-runtime', 'react-dom/client'],
    },
  },
});
