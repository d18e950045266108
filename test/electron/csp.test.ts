/**
 * The Electron window loads the renderer from file://, where no server can
 * add a Content-Security-Policy header, so the policy must be the meta tag
 * of renderer/index.html. This checks that tag.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '..', '..');

function metaPolicy(): Map<string, string[]> {
  const html = readFileSync(join(repoRoot, 'renderer', 'index.html'), 'utf8');
  const match = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/i.exec(html);
  const directives = new Map<string, string[]>();
  for (const directive of (match?.[1] ?? '').split(';')) {
    const [name, ...sources] = directive.trim().split(/\s+/);
    if (name) directives.set(name, sources);
  }
  return directives;
}

describe('renderer content security policy', () => {
  it('has a policy meta tag', () => {
    expect(metaPolicy().size).toBeGreaterThan(0);
  });

  it('limits scripts to the app itself', () => {
    const policy = metaPolicy();
    expect(policy.get('default-src')).toEqual(["'self'"]);
    expect(policy.get('script-src')).toEqual(["'self'"]);
  });

  it('allows no inline script or eval', () => {
    const policy = metaPolicy();
    expect(policy.get('script-src')).not.toContain("'unsafe-inline'");
    for (const sources of policy.values()) {
      expect(sources).not.toContain("'unsafe-eval'");
    }
  });

  it('limits connections to the app itself', () => {
    expect(metaPolicy().get('connect-src')).toEqual(["'self'"]);
  });
});
