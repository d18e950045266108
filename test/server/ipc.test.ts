import { describe, expect, expectTypeOf, it } from 'vitest';
import type { PipelineEvent } from '../../main/pipeline/index.js';
import {
  CHANNEL_NAMES,
  channels,
  parseRequest,
  toIpcError,
  type PipelineEventData,
} from '../../shared/ipc.js';

describe('shared IPC declarations', () => {
  it('pipeline event union matches the IPC schema', () => {
    expectTypeOf<PipelineEvent>().toEqualTypeOf<PipelineEventData>();
  });

  it('declares the channels the interface uses', () => {
    for (const name of [
      'app.info', 'model.inspect', 'model.default', 'run.start', 'run.cancel', 'run.resume',
      'runs.list', 'runs.get', 'runs.rename', 'runs.setNotes', 'runs.delete', 'runs.compare',
      'runs.export', 'dialog.open', 'shell.showInFolder',
    ]) {
      expect(CHANNEL_NAMES).toContain(name);
    }
  });

  it('run.start accepts a sweep and fills defaults', () => {
    const parsed = parseRequest('run.start', {
      settings: {
        modelPath: '/m/stories260K.bin',
        method: 'alps',
        targets: ['0.5', '0.7', '2:4'],
        calibration: { file: '/t/cal.txt', samples: 16, seqLen: 128, sampling: 'consecutive', seed: 0 },
        evalFile: null,
        outDir: '/out',
      },
    });
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.value.settings.targets).toEqual(['0.5', '0.7', '2:4']);
      expect(parsed.value.settings.attentionTarget).toBeNull();
      expect(parsed.value.settings.tokenizerPath).toBeNull();
    }
  });

  it('run.start rejects a sparsity of 1.2 naming the fix', () => {
    const parsed = parseRequest('run.start', {
      settings: {
        modelPath: '/m',
        method: 'alps',
        targets: ['1.2'],
        calibration: { file: '/t', samples: 16, seqLen: 128, sampling: 'consecutive', seed: 0 },
        evalFile: null,
        outDir: '/out',
      },
    });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe('INVALID_INPUT');
      expect(parsed.error.message).toContain('settings.targets.0');
      expect(parsed.error.message).toContain('Sparsity 1.2 is out of range');
    }
  });

  it('runs.get rejects a missing run id', () => {
    const parsed = parseRequest('runs.get', {});
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(/^Invalid request for runs\.get:\nrunId: /);
  });

  it('runs.get fills the event limit', () => {
    const parsed = parseRequest('runs.get', { runId: 'a' });
    expect(parsed).toEqual({ ok: true, value: { runId: 'a', eventLimit: 500 } });
  });

  it('toIpcError keeps known codes only', () => {
    const cancelled = Object.assign(new Error('stopped'), { name: 'CancelledError', code: 'CANCELLED' });
    expect(toIpcError(cancelled)).toEqual({ name: 'CancelledError', message: 'stopped', code: 'CANCELLED' });
    const other = Object.assign(new Error('disk'), { code: 'ENOSPC' });
    expect(toIpcError(other).code).toBe('INTERNAL');
    expect(toIpcError('text')).toEqual({ name: 'Error', message: 'text', code: 'INTERNAL' });
  });

  it('every channel has request and response schemas', () => {
    for (const name of CHANNEL_NAMES) {
      expect(typeof channels[name].request.safeParse).toBe('function');
      expect(typeof channels[name].response.safeParse).toBe('function');
    }
  });
});
