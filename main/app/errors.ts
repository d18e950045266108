/** Errors the handlers raise, each with the IPC error code the interface acts on. */
import type { ErrorCode } from '../../shared/ipc.js';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    name = 'AppError',
  ) {
    super(message);
    this.name = name;
  }
}

export function conflictError(message: string): AppError {
  return new AppError('CONFLICT', message, 'ConflictError');
}

export function unsupportedError(message: string): AppError {
  return new AppError('UNSUPPORTED', message, 'UnsupportedError');
}

export function invalidInputError(message: string): AppError {
  return new AppError('INVALID_INPUT', message, 'InvalidInputError');
}
