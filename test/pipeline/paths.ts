// Paths used by the pipeline and CLI tests. The read-only assets live in
// shared/ beside the repository (CI clones the repository next to it).
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const sharedRoot = resolve(repoRoot, '..', 'shared');
export const stories260K = resolve(sharedRoot, 'assets', 'stories260K', 'stories260K.bin');
export const calibrationText = resolve(sharedRoot, 'assets', 'text', 'tinystories-calibration.txt');
export const evaluationText = resolve(sharedRoot, 'assets', 'text', 'tinystories-eval.txt');
export const pipelineFixture = resolve(sharedRoot, 'fixtures', 'pipeline', 'stories260K.json');
export const cliEntry = resolve(repoRoot, 'bin', 'alps-studio.mjs');
