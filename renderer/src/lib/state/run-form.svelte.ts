import { formatTarget, METHODS, parseTarget, type Method, type Target } from '../../../../shared/targets.js';
import type { NewRunSettings } from '../../../../shared/ipc.js';
import type { ModelManager } from './model.svelte.js';

export type Sampling = 'consecutive' | 'random';
export type FieldName = 'targets' | 'attentionTarget' | 'mlpTarget' | 'calibrationPath' | 'samples' | 'seqLen' | 'seed' | 'evaluationPath' | 'outputDir' | 'model';

/** Parses a comma-separated list of targets ("0.5, 0.7, 2:4"); throws on the first invalid one. */
export function parseTargetList(text: string): Target[] {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (parts.length === 0) throw new Error('Give at least one target, such as 0.7 or 2:4.');
  return parts.map((part) => parseTarget(part));
}

function integerError(label: string, text: string, min: number, max: number): string | null {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isInteger(value)) return `${label} "${text}" is not a whole number.`;
  if (value < min || value > max) return `${label} ${value} is out of range: use ${min} to ${max}.`;
  return null;
}

function messageOf(action: () => unknown): string | null {
  try {
    action();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The New run form: raw field text, the validation message of each field and
 * the `run.start` request built from them. The form is valid when no field
 * has a message.
 */
export class RunFormManager {
  method = $state<Method>('alps');
  targets = $state('0.7');
  attentionTarget = $state('');
  mlpTarget = $state('');
  calibrationPath = $state('');
  samples = $state('64');
  seqLen = $state('256');
  sampling = $state<Sampling>('consecutive');
  seed = $state('0');
  evaluationPath = $state('');
  outputDir = $state('');

  readonly methods = METHODS;

  /** The model of the Model screen; the form reads its path and its maximum sequence length. */
  constructor(private readonly model: ModelManager) {}

  get modelPath(): string {
    return this.model.summary?.path ?? '';
  }

  get maxSequenceLength(): number {
    return this.model.summary?.maxSequenceLength ?? 1_000_000;
  }

  #errors = $derived.by((): Partial<Record<FieldName, string>> => {
    const errors: Partial<Record<FieldName, string>> = {};
    const set = (field: FieldName, message: string | null) => {
      if (message) errors[field] = message;
    };
    set('model', this.modelPath.trim() === '' ? 'Choose a model on the Model screen first.' : null);
    set('targets', messageOf(() => parseTargetList(this.targets)));
    if (this.attentionTarget.trim() !== '') set('attentionTarget', messageOf(() => parseTarget(this.attentionTarget)));
    if (this.mlpTarget.trim() !== '') set('mlpTarget', messageOf(() => parseTarget(this.mlpTarget)));
    set('calibrationPath', this.calibrationPath.trim() === '' ? 'Give the calibration text file (UTF-8, stories separated by <|endoftext|> lines).' : null);
    set('samples', integerError('Samples', this.samples, 1, 100_000));
    set('seqLen', integerError('Sequence length', this.seqLen, 2, this.maxSequenceLength));
    set('seed', integerError('Seed', this.seed, 0, 0xffffffff));
    set('outputDir', this.outputDir.trim() === '' ? 'Give the folder the pruned model is written to.' : null);
    return errors;
  });

  get errors(): Partial<Record<FieldName, string>> {
    return this.#errors;
  }

  get valid(): boolean {
    return Object.keys(this.#errors).length === 0;
  }

  /** Targets of the sweep, or an empty list while the field is invalid. */
  get sweep(): Target[] {
    return this.#errors.targets ? [] : parseTargetList(this.targets);
  }

  /** Builds the `run.start` request; call only when `valid` is true. */
  toRequest(): NewRunSettings {
    const optional = (text: string) => (text.trim() === '' ? null : text.trim());
    return {
      modelPath: this.modelPath,
      method: this.method,
      targets: parseTargetList(this.targets).map(formatTarget),
      attentionTarget: optional(this.attentionTarget),
      mlpTarget: optional(this.mlpTarget),
      calibration: {
        file: this.calibrationPath.trim(),
        samples: Number(this.samples),
        seqLen: Number(this.seqLen),
        sampling: this.sampling,
        seed: Number(this.seed),
      },
      evalFile: optional(this.evaluationPath),
      outDir: this.outputDir.trim(),
    };
  }
}
