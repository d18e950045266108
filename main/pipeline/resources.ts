/**
 * Paths of the bundled model and texts. The files live in `resources/` at the
 * package root, which is found by walking up from this module (it runs from
 * `main/pipeline/` under tsx and from `dist/main/pipeline/` when compiled).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder that contains package.json and resources/. */
export function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(folder, 'package.json')) && existsSync(join(folder, 'resources'))) return folder;
    const parent = dirname(folder);
    if (parent === folder) throw new Error(`No package folder with resources/ found above ${fileURLToPath(import.meta.url)}.`);
    folder = parent;
  }
}

/** Absolute path of `resources/<parts>` in the package. */
export function resourcePath(...parts: string[]): string {
  return join(packageRoot(), 'resources', ...parts);
}

export const BUNDLED = {
  model: (): string => resourcePath('stories260K', 'stories260K.bin'),
  calibration: (): string => resourcePath('text', 'tinystories-calibration.txt'),
  evaluation: (): string => resourcePath('text', 'tinystories-eval.txt'),
};
