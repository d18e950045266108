/**
 * The TensorFlow.js namespace type. Model code receives the `tf` instance from
 * its caller, which has already chosen and initialised a backend (wasm, cpu
 * or node), and never picks one itself.
 */
import type * as tfCore from '@tensorflow/tfjs-core';

export type TF = typeof tfCore;
export type Tensor = tfCore.Tensor;
