import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels } from '../../shared/ipc.js';
import { openApp, type AppContext } from '../../main/app/context.js';
import { createHandlers } from '../../main/app/handlers.js';
import { CONTENT_SECURITY_POLICY, startWebServer, type WebServer } from '../../main/server/http.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

let dataDir: string;
let rendererDir: string;
let app: AppContext;
let server: WebServer;

/** Sends one request with exactly the given headers (node:http lets tests set Host). */
function send(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: '127.0.0.1', port: server.port, method, path, headers: { host: `127.0.0.1:${server.port}`, ...headers } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function invoke(channel: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return send('POST', `/api/invoke/${channel}`, { 'content-type': 'application/json', 'x-alps-token': server.token, ...headers }, JSON.stringify(body));
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'alps-http-'));
  rendererDir = join(dataDir, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>test page</title><script type="module" src="./assets/app.js"></script>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'export const loaded = true;\n');
  writeFileSync(join(dataDir, 'secret.txt'), 'outside the renderer folder');
  app = openApp({ dataDir, platform: 'web' });
  server = await startWebServer({ handlers: createHandlers(app), bus: app.bus, rendererDir, port: 0 });
});

afterAll(async () => {
  await server.close();
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('web server access', () => {
  it('prints a loopback URL with a 32-byte token', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(server.token).toMatch(/^[0-9a-f]{64}$/);
    expect(server.port).toBeGreaterThan(0);
  });

  it('rejects a missing token with 401', async () => {
    const reply = await send('POST', '/api/invoke/app.info', { 'content-type': 'application/json' }, '{}');
    expect(reply.status).toBe(401);
    expect(reply.body).toContain('access token is missing');
  });

  it('rejects a wrong token with 401', async () => {
    const reply = await invoke('app.info', {}, { 'x-alps-token': 'f'.repeat(64) });
    expect(reply.status).toBe(401);
    expect(reply.body).toContain('access token is wrong');
  });

  it('rejects static files without token', async () => {
    const reply = await send('GET', '/assets/app.js');
    expect(reply.status).toBe(401);
  });

  it('rejects a foreign Host with 403', async () => {
    const reply = await invoke('app.info', {}, { host: `attacker.example:${server.port}` });
    expect(reply.status).toBe(403);
    expect(reply.body).toContain('Host "attacker.example');
  });

  it('rejects a Host with another port', async () => {
    const reply = await invoke('app.info', {}, { host: `127.0.0.1:${server.port + 1}` });
    expect(reply.status).toBe(403);
  });

  it('rejects a foreign Origin with 403', async () => {
    const reply = await invoke('app.info', {}, { origin: 'http://attacker.example' });
    expect(reply.status).toBe(403);
    expect(reply.body).toContain('Origin "http://attacker.example"');
  });

  it('accepts localhost Host and Origin', async () => {
    const reply = await invoke('app.info', {}, { host: `localhost:${server.port}`, origin: `http://localhost:${server.port}` });
    expect(reply.status).toBe(200);
  });

  it('rejects the event stream without token', async () => {
    const reply = await send('GET', '/api/events');
    expect(reply.status).toBe(401);
  });
});

describe('web server invoke', () => {
  it('returns app.info in the envelope', async () => {
    const reply = await invoke('app.info', {});
    expect(reply.status).toBe(200);
    expect(reply.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    const envelope = JSON.parse(reply.body) as { ok: boolean; value: unknown };
    expect(envelope.ok).toBe(true);
    const info = channels['app.info'].response.parse(envelope.value);
    expect(info.platform).toBe('web');
    expect(info.dataDir).toBe(dataDir);
    expect(info.databasePath).toBe(join(dataDir, 'history.sqlite'));
  });

  it('accepts the token as query parameter', async () => {
    const reply = await send('POST', `/api/invoke/runs.list?token=${server.token}`, { 'content-type': 'application/json' }, '{}');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ ok: true, value: [] });
  });

  it('returns INVALID_INPUT for an invalid body', async () => {
    const reply = await invoke('runs.rename', { runId: 'x', name: '   ' });
    expect(reply.status).toBe(200);
    const envelope = JSON.parse(reply.body) as { ok: boolean; error: { code: string; message: string; name: string } };
    expect(envelope.ok).toBe(false);
    expect(envelope.error.code).toBe('INVALID_INPUT');
    expect(envelope.error.name).toBe('InvalidInputError');
    expect(envelope.error.message).toBe('Invalid request for runs.rename:\nname: Name is empty: type a name for the run.');
  });

  it('returns INVALID_INPUT for malformed JSON', async () => {
    const reply = await send('POST', '/api/invoke/app.info', { 'content-type': 'application/json', 'x-alps-token': server.token }, '{"a":');
    expect(reply.status).toBe(400);
    const envelope = JSON.parse(reply.body) as { error: { code: string; message: string } };
    expect(envelope.error.code).toBe('INVALID_INPUT');
    expect(envelope.error.message).toContain('not valid JSON');
  });

  it('rejects a body that is not JSON', async () => {
    const reply = await send('POST', '/api/invoke/app.info', { 'content-type': 'text/plain', 'x-alps-token': server.token }, '{}');
    expect(reply.status).toBe(415);
  });

  it('returns 404 for an unknown channel', async () => {
    const reply = await invoke('runs.format', {});
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.body).error.code).toBe('NOT_FOUND');
  });

  it('returns NOT_FOUND for an unknown run', async () => {
    const reply = await invoke('runs.get', { runId: 'no-such-run' });
    const envelope = JSON.parse(reply.body) as { ok: boolean; error: { code: string; message: string } };
    expect(envelope.error.code).toBe('NOT_FOUND');
    expect(envelope.error.message).toContain('Run no-such-run was not found');
  });

  it('returns UNSUPPORTED for dialogs', async () => {
    const reply = await invoke('dialog.open', { kind: 'modelFolder' });
    const envelope = JSON.parse(reply.body) as { ok: boolean; error: { code: string } };
    expect(envelope.ok).toBe(false);
    expect(envelope.error.code).toBe('UNSUPPORTED');
  });

  it('rejects a run with a missing model', async () => {
    const reply = await invoke('run.start', {
      settings: {
        modelPath: join(dataDir, 'missing.bin'),
        method: 'magnitude',
        targets: ['0.5'],
        calibration: { file: join(dataDir, 'secret.txt'), samples: 1, seqLen: 8, sampling: 'consecutive', seed: 0 },
        evalFile: null,
        outDir: join(dataDir, 'out'),
      },
    });
    const envelope = JSON.parse(reply.body) as { ok: boolean; error: { code: string; message: string } };
    expect(envelope.error.code).toBe('INVALID_INPUT');
    expect(envelope.error.message).toBe(`Model ${join(dataDir, 'missing.bin')} does not exist: choose a llama2.c .bin file or a Hugging Face model folder.`);
  });
});

describe('web server files and events', () => {
  it('serves index.html and sets the token cookie', async () => {
    const reply = await send('GET', `/?token=${server.token}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('<title>test page</title>');
    expect(reply.headers['content-security-policy']).toContain("script-src 'self'");
    const cookie = reply.headers['set-cookie']?.[0] ?? '';
    expect(cookie).toContain(`alps_token_${server.port}=${server.token}`);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');

    const asset = await send('GET', '/assets/app.js', { cookie: `alps_token_${server.port}=${server.token}` });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.body).toBe('export const loaded = true;\n');
  });

  it('keeps files inside the renderer folder', async () => {
    const reply = await send('GET', `/..%2Fsecret.txt?token=${server.token}`);
    expect(reply.status).toBe(404);
    expect(reply.body).not.toContain('outside the renderer folder');
  });

  it('streams bus events as SSE data lines', async () => {
    const received = await new Promise<string>((resolve, reject) => {
      const outgoing = httpRequest(
        { host: '127.0.0.1', port: server.port, path: `/api/events?token=${server.token}`, headers: { host: `127.0.0.1:${server.port}` } },
        (response) => {
          expect(response.statusCode).toBe(200);
          expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
          let text = '';
          response.on('data', (chunk: Buffer) => {
            text += chunk.toString('utf8');
            if (text.includes(': connected')) {
              app.bus.emit('run.status', { runId: 'r-1', status: 'cancelled', error: null });
            }
            if (text.includes('data: ')) {
              outgoing.destroy();
              resolve(text);
            }
          });
        },
      );
      outgoing.on('error', (error) => {
        if (!outgoing.destroyed) reject(error);
      });
      outgoing.end();
    });
    const line = received.split('\n').find((text) => text.startsWith('data: '))!;
    expect(JSON.parse(line.slice('data: '.length))).toEqual({
      event: 'run.status',
      payload: { runId: 'r-1', status: 'cancelled', error: null },
    });
  });
});

describe('web server without a built interface', () => {
  it('serves a page explaining the build', async () => {
    const bare = await startWebServer({ handlers: createHandlers(app), bus: app.bus, rendererDir: join(dataDir, 'no-build'), port: 0 });
    try {
      const reply = await new Promise<Reply>((resolve, reject) => {
        httpRequest({ host: '127.0.0.1', port: bare.port, path: `/?token=${bare.token}`, headers: { host: `127.0.0.1:${bare.port}` } }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
        })
          .on('error', reject)
          .end();
      });
      expect(reply.status).toBe(503);
      expect(reply.body).toContain('npm run build:renderer');
      expect(reply.body).not.toContain('<script');
    } finally {
      await bare.close();
    }
  });
});

describe('web server port', () => {
  it('reports a port in use', async () => {
    await expect(startWebServer({ handlers: createHandlers(app), bus: app.bus, rendererDir, port: server.port })).rejects.toThrow(
      `Port ${server.port} on 127.0.0.1 is already in use: choose another --port, or --port 0 for a free one.`,
    );
  });
});
