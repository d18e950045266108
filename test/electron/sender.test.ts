import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isRendererUrl } from '../../main/electron/sender.js';

const index = join('/opt', 'ALPS Studio', 'resources', 'app', 'renderer', 'dist', 'index.html');

describe('isRendererUrl', () => {
  it('accepts the bundled index.html', () => {
    expect(isRendererUrl(pathToFileURL(index).href, index)).toBe(true);
  });

  it('accepts a query and hash', () => {
    expect(isRendererUrl(`${pathToFileURL(index).href}?screen=history#run-1`, index)).toBe(true);
  });

  it('rejects another local file', () => {
    expect(isRendererUrl(pathToFileURL(join('/tmp', 'index.html')).href, index)).toBe(false);
  });

  it('rejects a path escaping with ..', () => {
    expect(isRendererUrl(`${pathToFileURL(index).href}/../../../../../../../tmp/x.html`, index)).toBe(false);
  });

  it('rejects http and remote file URLs', () => {
    expect(isRendererUrl('http://127.0.0.1:3000/index.html', index)).toBe(false);
    expect(isRendererUrl(`file://attacker.example${pathToFileURL(index).pathname}`, index)).toBe(false);
  });

  it('rejects text that is no URL', () => {
    expect(isRendererUrl('not a url', index)).toBe(false);
    expect(isRendererUrl('', index)).toBe(false);
  });
});
