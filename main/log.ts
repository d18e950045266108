import { pino, type Logger } from 'pino';

/**
 * The process-wide logger. Each module takes a child with `logger.child({ module })`.
 * Lines go to stderr so that stdout stays free for `--json` output and the
 * `serve` URL. ALPS_LOG_LEVEL sets the level (default `info`; `silent` in tests).
 */
const level = process.env.ALPS_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');

export const logger: Logger = pino({ level, base: undefined }, pino.destination(2));

export function moduleLogger(module: string): Logger {
  return logger.child({ module });
}
