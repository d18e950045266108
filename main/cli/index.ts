/**
 * `alps-studio` command-line interface. Each command lives in its own module
 * under ./commands and exports `run(argv): Promise<number>` (the exit code).
 * Results go to stdout; logs and progress go to stderr.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  solve: { summary: 'prune one layer problem (safetensors with W and H)', load: () => import('./commands/solve.js') },
  prune: { summary: 'prune a whole model block by block and save it', load: () => import('./commands/prune.js') },
  eval: { summary: 'measure a model\'s perplexity on a text file', load: () => import('./commands/eval.js') },
  serve: { summary: 'serve the interface to a browser on 127.0.0.1', load: () => import('./commands/serve.js') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(8)}${command.summary}`);
  return ['Usage: alps-studio <command> [options]', '', 'Commands:', ...lines, '', 'Run `alps-studio <command> --help` for its options.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${usage()}`);
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? `Error: ${error.message}` : `Error: ${String(error)}`);
    process.exitCode = 1;
  },
);
