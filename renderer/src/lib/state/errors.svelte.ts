import { BackendError } from '../transport.js';

export interface ShownError {
  id: number;
  /** What the user was doing, for example "Loading the model". */
  context: string;
  message: string;
  code: string;
}

/**
 * The one place errors reach the screen. Managers catch what their backend
 * calls throw and pass it to `report`; the error banner lists `errors`.
 */
export class ErrorManager {
  #errors = $state<ShownError[]>([]);
  #nextId = 1;

  get errors(): ShownError[] {
    return this.#errors;
  }

  report(context: string, error: unknown): void {
    const code = error instanceof BackendError ? error.code : 'UNEXPECTED';
    // A cancelled run is the user's choice, not a failure.
    if (code === 'CANCELLED') return;
    const message = error instanceof Error ? error.message : String(error);
    this.#errors = [...this.#errors, { id: this.#nextId++, context, message, code }];
  }

  dismiss(id: number): void {
    this.#errors = this.#errors.filter((error) => error.id !== id);
  }
}
