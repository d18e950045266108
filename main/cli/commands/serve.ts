/**
 * `alps-studio serve`: the interface in a browser, served on 127.0.0.1 with
 * the same handlers, store and run manager as the desktop app. The first
 * line of stdout is the URL to open (with its access token); logs go to
 * stderr.
 */
import { join, resolve } from 'node:path';
import { openApp } from '../../app/context.js';
import { createHandlers } from '../../app/handlers.js';
import { defaultDataDir, packageRoot } from '../../app/paths.js';
import { moduleLogger } from '../../log.js';
import { startWebServer } from '../../server/http.js';
import { EXIT, parseFlags, parseNumber, printUsage, runCommand } from '../args.js';

const log = moduleLogger('cli.serve');

const USAGE = `Usage: alps-studio serve [--port N] [--data-dir DIR]

Serves the ALPS Studio interface on http://127.0.0.1 and prints the address
to open, with its access token, as the first line of output.

Options:
  --port N          TCP port on 127.0.0.1 (default 0: a free port)
  --data-dir DIR    folder of the run history and run checkpoints
                    (default ${defaultDataDir()})
  -h, --help        show this help`;

const FLAGS = {
  port: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function run(argv: string[]): Promise<number> {
  return runCommand('serve', async () => {
    const { values } = parseFlags(argv, FLAGS, 'serve');
    if (values.help) {
      return printUsage(USAGE);
    }
    const port = parseNumber(values.port, 'port', { integer: true, min: 0, max: 65535 }) ?? 0;
    const dataDir = resolve(values['data-dir'] ?? defaultDataDir());

    const app = openApp({ dataDir, platform: 'web' });
    let server;
    try {
      server = await startWebServer({
        handlers: createHandlers(app),
        bus: app.bus,
        rendererDir: join(packageRoot(), 'renderer', 'dist'),
        port,
      });
    } catch (error) {
      await app.close();
      throw error;
    }
    console.log(server.url);
    console.error(`ALPS Studio is serving on 127.0.0.1:${server.port} (data in ${dataDir}). Press Ctrl-C to stop.`);

    const signal = await new Promise<NodeJS.Signals>((done) => {
      process.once('SIGINT', () => done('SIGINT'));
      process.once('SIGTERM', () => done('SIGTERM'));
    });
    log.info({ signal }, 'stopping: runs in progress will be marked interrupted');
    await server.close();
    await app.close();
    return EXIT.ok;
  });
}
