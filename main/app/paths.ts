/** Locations of the app's data folder and of its bundled model and texts. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Data folder of the CLI's web mode when `--data-dir` is not given. */
export function defaultDataDir(): string {
  return join(homedir(), '.alps-studio');
}

/**
 * Finds the repository or package root: the nearest folder above this module
 * that contains package.json (from main/app/*.ts and from dist/main/app/*.js).
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`No package.json found above ${fileURLToPath(import.meta.url)}: the app files are incomplete, so reinstall ALPS Studio.`);
    }
    dir = parent;
  }
  return dir;
}

/** Bundled files: `resources/` of a checkout, or the packaged app's copy passed in by the Electron shell. */
export interface BundledPaths {
  modelPath: string;
  tokenizerPath: string | null;
  calibrationFile: string;
  evalFile: string;
}

export function bundledPaths(resourcesDir: string = join(packageRoot(), 'resources')): BundledPaths {
  const model = join(resourcesDir, 'stories260K');
  const tokenizer = join(model, 'tok512.bin');
  return {
    modelPath: join(model, 'stories260K.bin'),
    tokenizerPath: existsSync(tokenizer) ? tokenizer : null,
    calibrationFile: join(resourcesDir, 'text', 'tinystories-calibration.txt'),
    evalFile: join(resourcesDir, 'text', 'tinystories-eval.txt'),
  };
}

/** Characters kept in folder names derived from user input; others become `_`. */
export function safeFileName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 120) || 'run';
}
