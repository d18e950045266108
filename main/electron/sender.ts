/** Checks on IPC senders that need no Electron API, so plain Node tests can run them. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Returns true when `url` is the bundled renderer's index.html (any query or hash). */
export function isRendererUrl(url: string, rendererIndex: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'file:' || parsed.host !== '') {
    return false;
  }
  return resolve(fileURLToPath(parsed)) === resolve(rendererIndex);
}
