/**
 * Flag parsing shared by the CLI commands, on top of node:util `parseArgs`.
 *
 * A command module looks like this:
 *
 * ```ts
 * const FLAGS = { model: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;
 *
 * export function run(argv: string[]): Promise<number> {
 *   return runCommand('prune', async () => {
 *     const { values } = parseFlags(argv, FLAGS, 'prune');
 *     if (values.help) return printUsage(USAGE);
 *     const model = requireFlag(values.model, 'model', 'prune');
 *     const seqLen = parseNumber(values['seq-len'], 'seq-len', { integer: true, min: 1 });
 *     ...
 *     return EXIT.ok;
 *   });
 * }
 * ```
 *
 * Exit codes (EXIT): 0 success, 1 failure (bad input file, solver error),
 * 2 usage error (bad or missing flags), 130 interrupted (Ctrl-C, as shells
 * report SIGINT). Throw UsageError for anything the user fixes by changing
 * flags; runCommand prints it on stderr with a pointer to `--help` and
 * returns 2. Other errors print as `Error: message` and return 1, except
 * CancelledError, which returns 130.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CancelledError } from '../engine/types.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** A mistake in the command line. The message names the flag and what to pass. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly code = 'USAGE';
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses `argv` strictly against `options` (unknown flags and positional
 * arguments are usage errors). `command` names the command in messages.
 */
export function parseFlags<const T extends FlagOptions>(argv: string[], options: T, command: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '.');
    throw new UsageError(`${message} Run \`alps-studio ${command} --help\` for the options.`);
  }
}

/** Returns a string flag's value, or throws UsageError naming the missing flag. */
export function requireFlag(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === '') {
    throw new UsageError(`Missing --${flag}. Run \`alps-studio ${command} --help\` for the options.`);
  }
  return value;
}

export interface NumberRule {
  /** Require a whole number. */
  integer?: boolean;
  /** Smallest accepted value (inclusive). */
  min?: number;
  /** Largest accepted value (inclusive). */
  max?: number;
}

/** Parses a numeric flag value; returns undefined when the flag is absent, throws UsageError when invalid. */
export function parseNumber(value: string | undefined, flag: string, rule: NumberRule = {}): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value.trim());
  const kind = rule.integer ? 'a whole number' : 'a number';
  const bounds = [rule.min !== undefined ? `>= ${rule.min}` : '', rule.max !== undefined ? `<= ${rule.max}` : ''].filter(Boolean).join(' and ');
  const expected = bounds ? `${kind} ${bounds}` : kind;
  if (value.trim() === '' || !Number.isFinite(number) || (rule.integer && !Number.isInteger(number))) {
    throw new UsageError(`--${flag} ${JSON.stringify(value)} is invalid: give ${expected}.`);
  }
  if ((rule.min !== undefined && number < rule.min) || (rule.max !== undefined && number > rule.max)) {
    throw new UsageError(`--${flag} ${value} is out of range: give ${expected}.`);
  }
  return number;
}

/** Returns `value` when it is one of `choices` (case-sensitive); throws UsageError listing them otherwise. */
export function parseChoice<const C extends readonly string[]>(value: string, flag: string, choices: C): C[number] {
  if ((choices as readonly string[]).includes(value)) return value as C[number];
  throw new UsageError(`--${flag} ${JSON.stringify(value)} is unknown: use one of ${choices.join(', ')}.`);
}

/** Prints usage text on stdout and returns EXIT.ok, for `--help`. */
export function printUsage(usage: string): number {
  console.log(usage);
  return EXIT.ok;
}

/**
 * Returns an AbortSignal that aborts on the first SIGINT (Ctrl-C), so a
 * command can cancel its work and exit cleanly. A second SIGINT exits at
 * once. Call `dispose()` when the command ends.
 */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onInterrupt = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    console.error('Interrupted: cancelling (press Ctrl-C again to quit at once).');
    controller.abort(new CancelledError('Interrupted by the user.'));
  };
  process.on('SIGINT', onInterrupt);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onInterrupt) };
}

/**
 * Runs a command body and maps what it throws to an exit code and a message
 * on stderr: UsageError → 2, CancelledError → 130, anything else → 1.
 */
export async function runCommand(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`alps-studio ${command}: ${error.message}`);
      return EXIT.usage;
    }
    if (error instanceof CancelledError) {
      console.error(`alps-studio ${command}: ${error.message}`);
      return EXIT.interrupted;
    }
    console.error(`alps-studio ${command}: Error: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failure;
  }
}
