#!/usr/bin/env node
// Makes sure the Electron binary is installed before `npm start` launches it.
// package.json sets `allowScripts.electron: false`, so `npm install` skips
// Electron's own download. This script runs that download the first time it
// is needed: node_modules/electron/install.js fetches the release for this
// platform and checks it against the checksums shipped in the package.
// Exit code 0: the binary is present; 1: it is missing and the download failed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Path of the Electron executable, or null when the package has no binary yet. */
function electronBinary() {
  try {
    const path = require('electron');
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    // node_modules/electron/index.js throws until its install script has run.
    return null;
  }
}

const found = electronBinary();
if (found !== null) {
  process.exit(0);
}

let installScript;
try {
  installScript = join(dirname(require.resolve('electron/package.json')), 'install.js');
} catch {
  console.error('The electron package is not installed: run `npm install` in the ALPS Studio folder, then `npm start` again.');
  process.exit(1);
}

console.error('The Electron binary is missing: downloading it with node_modules/electron/install.js …');
const result = spawnSync(process.execPath, [installScript], { stdio: 'inherit' });
const installed = electronBinary();
if (result.status !== 0 || installed === null) {
  console.error(
    [
      '',
      'Could not download the Electron binary (install.js exited with ' + (result.status ?? result.signal) + ').',
      'The desktop app needs it; the command line and the web mode do not:',
      '  - check the network connection (the download comes from GitHub releases, or from',
      '    ELECTRON_MIRROR when that is set), then run `npm start` again; or',
      '  - run the interface in a browser instead: `npx alps-studio serve`.',
    ].join('\n'),
  );
  process.exit(1);
}
console.error(`Electron is installed: ${installed}`);
