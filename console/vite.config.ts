// The web console's build: `vite build` from this folder writes console/dist, which the gateway
// serves (src/console/static.ts). No plugins: esbuild compiles the TSX.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // no inline <script> or data: modules, so the CSP can stay `script-src 'self'`
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  logLevel: 'warn',
});
