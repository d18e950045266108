import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// The renderer is one static bundle that Electron loads from disk (file://)
// and the web mode serves over HTTP, so every URL in it is relative.
export default defineConfig({
  // The folder of this file, so the build works from any working directory.
  root: import.meta.dirname,
  base: './',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The modulepreload polyfill is unneeded in Chromium and would add script
    // that the content security policy has to allow.
    modulePreload: { polyfill: false },
  },
});
