/**
 * Web mode: the interface and the IPC channels over HTTP on 127.0.0.1.
 *
 * Protocol (shared/ipc.ts declares the channels and payloads):
 *   - Access: every request needs the token printed at start, as the
 *     `x-alps-token` header, the `token` query parameter, or the cookie
 *     `alps_token_<PORT>`. A page load with a valid `?token=` sets that
 *     cookie, so the page's scripts and styles load without the query.
 *     Missing or wrong token → 401. A Host header other than `127.0.0.1:PORT` or
 *     `localhost:PORT`, or an Origin header other than `http://127.0.0.1:PORT`
 *     or `http://localhost:PORT`, → 403, which blocks DNS rebinding and
 *     cross-site requests.
 *   - `POST /api/invoke/<channel>`, body = the JSON request
 *     (Content-Type application/json) → 200 with
 *     `{"ok":true,"value":...}` or `{"ok":false,"error":{"name","message","code"}}`.
 *     A body that fails the channel's schema gets code `INVALID_INPUT`.
 *     An unknown channel → 404 with code `NOT_FOUND`.
 *     Unparsable JSON → 400 with code `INVALID_INPUT`.
 *   - `GET /api/events?token=TOKEN` → Server-Sent Events. Each message is one
 *     line `data: {"event":"run.event"|"run.status","payload":...}`, and a
 *     comment line every `heartbeatMs` keeps proxies from closing the stream.
 *   - Any other GET → a file of the built renderer (`renderer/dist`), with
 *     `index.html` for paths without a file extension; a page saying how to
 *     build it when the folder is missing.
 * Responses carry a Content-Security-Policy that allows scripts only from
 * this origin and no inline scripts.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isChannel, type InvokeResult, type StreamMessage } from '../../shared/ipc.js';
import type { EventBus } from '../app/event-bus.js';
import { dispatch, type Handlers } from '../app/handlers.js';
import { moduleLogger } from '../log.js';
import { serveStatic } from './static.js';

const log = moduleLogger('server');

export const SERVER_DEFAULTS = {
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: 1024 * 1024,
  /** Interval of the keep-alive comment on event streams, in ms. */
  heartbeatMs: 15_000,
};

/**
 * Content-Security-Policy of every response: scripts, styles and connections
 * only from this origin, no inline scripts or styles, no framing. It matches
 * the policy in renderer/index.html, so the page runs the same in Electron.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface WebServerOptions {
  handlers: Handlers;
  bus: EventBus;
  /** Folder of the built renderer (index.html and assets). */
  rendererDir: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Fixed token for tests; random 32 bytes (hex) when absent. */
  token?: string;
}

export interface WebServer {
  readonly port: number;
  readonly token: string;
  /** `http://127.0.0.1:PORT/?token=TOKEN`, the address to open. */
  readonly url: string;
  close(): Promise<void>;
}

function setCommonHeaders(response: ServerResponse): void {
  response.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('X-Frame-Options', 'DENY');
  // The token travels in the first page's URL, so no page may send it on as a Referer.
  response.setHeader('Referrer-Policy', 'no-referrer');
  response.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end(`${text}\n`);
}

function sendJson(response: ServerResponse, status: number, value: InvokeResult<unknown>): void {
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end(JSON.stringify(value));
}

function tokensEqual(presented: string, expected: string): boolean {
  const left = Buffer.from(presented);
  const right = Buffer.from(expected);
  return left.length === right.length && timingSafeEqual(left, right);
}

function readCookie(request: IncomingMessage, name: string): string | null {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) {
      return rest.join('=');
    }
  }
  return null;
}

async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      throw new Error(`Request body is larger than ${limit} bytes: send a smaller request.`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const token = options.token ?? randomBytes(32).toString('hex');
  let port = 0;
  const cookieName = (): string => `alps_token_${port}`;
  const streams = new Set<ServerResponse>();

  /** Returns the HTTP status that rejects the request, or null when it may proceed. */
  function checkAccess(request: IncomingMessage, url: URL): { status: number; message: string } | null {
    const allowedHosts = [`127.0.0.1:${port}`, `localhost:${port}`];
    if (!allowedHosts.includes(request.headers.host ?? '')) {
      return { status: 403, message: `Host "${request.headers.host ?? ''}" is not allowed: open http://127.0.0.1:${port}/ instead.` };
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !allowedHosts.some((host) => origin === `http://${host}`)) {
      return { status: 403, message: `Origin "${origin}" is not allowed: the interface must be opened from http://127.0.0.1:${port}/.` };
    }
    const header = request.headers['x-alps-token'];
    const presented = (typeof header === 'string' ? header : null) ?? url.searchParams.get('token') ?? readCookie(request, cookieName());
    if (presented === null || presented === '') {
      return { status: 401, message: 'The access token is missing: open the URL that `alps-studio serve` printed, which ends in ?token=….' };
    }
    if (!tokensEqual(presented, token)) {
      return { status: 401, message: 'The access token is wrong: open the URL that the running `alps-studio serve` printed last.' };
    }
    return null;
  }

  function openEventStream(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    response.write(': connected\n\n');
    streams.add(response);
    const unsubscribe = options.bus.subscribe((message: StreamMessage) => {
      response.write(`data: ${JSON.stringify(message)}\n\n`);
    });
    const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), SERVER_DEFAULTS.heartbeatMs);
    request.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(response);
    });
  }

  async function invoke(request: IncomingMessage, response: ServerResponse, channel: string): Promise<void> {
    const contentType = request.headers['content-type'] ?? '';
    if (!contentType.startsWith('application/json')) {
      sendJson(response, 415, {
        ok: false,
        error: { name: 'InvalidInputError', code: 'INVALID_INPUT', message: `Content-Type "${contentType}" is not supported: send the request as application/json.` },
      });
      return;
    }
    let body: unknown;
    try {
      const text = await readBody(request, SERVER_DEFAULTS.maxBodyBytes);
      body = text.trim() === '' ? {} : JSON.parse(text);
    } catch (error) {
      const message = error instanceof SyntaxError ? `Request body is not valid JSON (${error.message}): send the request object as JSON.` : (error as Error).message;
      log.warn({ channel, message }, 'rejected request body');
      sendJson(response, 400, { ok: false, error: { name: 'InvalidInputError', code: 'INVALID_INPUT', message } });
      return;
    }
    const result = await dispatch(options.handlers, channel, body);
    sendJson(response, isChannel(channel) ? 200 : 404, result);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    setCommonHeaders(response);
    const url = new URL(request.url ?? '/', `http://127.0.0.1:${port}`);
    const rejection = checkAccess(request, url);
    if (rejection !== null) {
      log.warn({ status: rejection.status, method: request.method, path: url.pathname }, 'rejected request');
      sendText(response, rejection.status, rejection.message);
      return;
    }
    if (url.searchParams.has('token')) {
      // Lets the page's own script and style requests, which carry no query, pass the token check.
      response.setHeader('Set-Cookie', `${cookieName()}=${token}; Path=/; HttpOnly; SameSite=Strict`);
    }

    const invokePrefix = '/api/invoke/';
    if (url.pathname.startsWith(invokePrefix)) {
      if (request.method !== 'POST') {
        response.setHeader('Allow', 'POST');
        sendText(response, 405, `Method ${request.method} is not allowed on ${url.pathname}: use POST.`);
        return;
      }
      await invoke(request, response, decodeURIComponent(url.pathname.slice(invokePrefix.length)));
      return;
    }
    if (url.pathname === '/api/events') {
      if (request.method !== 'GET') {
        response.setHeader('Allow', 'GET');
        sendText(response, 405, `Method ${request.method} is not allowed on /api/events: use GET.`);
        return;
      }
      openEventStream(request, response);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      sendText(response, 404, `No API at ${url.pathname}: use /api/invoke/<channel> or /api/events.`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      sendText(response, 405, `Method ${request.method} is not allowed for files: use GET.`);
      return;
    }
    await serveStatic(options.rendererDir, url.pathname, request.method === 'HEAD', response);
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log.error({ err: error, method: request.method, url: request.url?.replace(/token=[^&]*/, 'token=…') }, 'request failed');
      if (!response.headersSent) {
        sendText(response, 500, 'Internal error: see the server log for details.');
      } else {
        response.end();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(new Error(`Port ${options.port} on 127.0.0.1 is already in use: choose another --port, or --port 0 for a free one.`));
      } else {
        reject(error);
      }
    });
    server.listen(options.port, '127.0.0.1', () => {
      server.removeAllListeners('error');
      server.on('error', (error) => log.error({ err: error, port }, 'web server error'));
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  log.info({ port }, 'web server listening on 127.0.0.1');

  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/?token=${token}`,
    async close() {
      for (const stream of streams) {
        stream.end();
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      log.info({ port }, 'web server stopped');
    },
  };
}
