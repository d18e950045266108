/** Serves the built renderer's files, confined to its folder. */
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Page shown when renderer/dist is missing; it has no script, so the CSP allows it. */
export function notBuiltPage(rendererDir: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>ALPS Studio: interface not built</title></head>',
    '<body>',
    '<h1>The interface is not built yet</h1>',
    `<p>The server found no <code>index.html</code> in <code>${escapeHtml(rendererDir)}</code>.</p>`,
    '<p>Build it with <code>npm run build:renderer</code> in the ALPS Studio folder, then reload this page.</p>',
    '</body></html>',
    '',
  ].join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/**
 * Sends the file for `pathname` from `rootDir`. Paths without an extension
 * get index.html, so client-side routes reload. Paths that leave `rootDir`
 * get 404.
 */
export async function serveStatic(rootDir: string, pathname: string, headOnly: boolean, response: ServerResponse): Promise<void> {
  const root = resolve(rootDir);
  const indexPath = join(root, 'index.html');
  if (!existsSync(indexPath)) {
    response.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    response.end(headOnly ? undefined : notBuiltPage(root));
    return;
  }

  let relative: string;
  try {
    relative = decodeURIComponent(pathname);
  } catch {
    relative = '';
  }
  let filePath = extname(relative) === '' ? indexPath : resolve(root, `.${relative}`);
  if (filePath !== root && !filePath.startsWith(root + sep)) {
    filePath = '';
  }
  const info = filePath === '' ? null : await stat(filePath).catch(() => null);
  if (info === null || !info.isFile()) {
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end(`File ${pathname} was not found in the interface build.\n`);
    return;
  }

  response.writeHead(200, {
    'Content-Type': CONTENT_TYPES[extname(filePath).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': info.size,
    // Vite puts a content hash in asset names, so those can be cached; index.html cannot.
    'Cache-Control': filePath === indexPath ? 'no-store' : 'private, max-age=3600',
  });
  if (headOnly) {
    response.end();
    return;
  }
  createReadStream(filePath).pipe(response);
}
