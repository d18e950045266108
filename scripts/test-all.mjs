#!/usr/bin/env node
// Runs every test group in order (type check, lint, fast, slow, e2e) and ends
// with one summary line "N passed, N failed, N skipped" summed over the
// vitest groups, read from vitest's JSON reports. Exits non-zero if any step
// fails. `--only fast,slow` limits the vitest groups.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const onlyIndex = process.argv.indexOf('--only');
const groups = onlyIndex > 0 ? process.argv[onlyIndex + 1].split(',') : ['fast', 'slow', 'e2e'];
const reportDir = join('test-output', 'reports');
mkdirSync(reportDir, { recursive: true });

function step(label, command, args) {
  const started = Date.now();
  console.log(`\n=== ${label}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env: process.env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  console.log(`=== ${label}: ${ok ? 'ok' : `failed (exit ${result.status ?? result.signal})`} in ${seconds} s`);
  return ok;
}

const failures = [];

// `npm start` rebuilds better-sqlite3 for Electron's ABI, which plain Node
// cannot load. Stop here with the fix instead of failing every store test.
const sqliteCheck = spawnSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { encoding: 'utf8' });
if (sqliteCheck.status !== 0) {
  console.error(sqliteCheck.stderr);
  console.error('better-sqlite3 does not load in this Node.js (built for Electron by `npm start`?). Run `npm run rebuild:node`, then `npm test` again.');
  process.exit(1);
}
if (onlyIndex < 0) {
  if (!step('typecheck', 'npm', ['run', 'typecheck'])) failures.push('typecheck');
  if (!step('lint', 'npx', ['eslint', '.'])) failures.push('lint');
}
if (groups.includes('e2e')) {
  if (!step('build renderer', 'npm', ['run', 'build:renderer'])) failures.push('build:renderer');
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const group of groups) {
  const reportFile = join(reportDir, `${group}.json`);
  rmSync(reportFile, { force: true });
  const ok = step(`tests (${group})`, 'npx', [
    'vitest', 'run', '--project', group, '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`,
  ]);
  if (!ok) failures.push(`tests (${group})`);
  if (existsSync(reportFile)) {
    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    skipped += report.numPendingTests + report.numTodoTests;
  } else {
    failures.push(`tests (${group}): no report written`);
  }
}

if (failures.length > 0) console.log(`\nFailed steps: ${failures.join('; ')}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failures.length > 0 || passed === 0 ? 1 : 0;
