/**
 * The TensorFlow.js namespace type. Model code receives the `tf` instance from
 * its caller, which has already chosen and initialised a backend (wasm, cpu
 * or node), and never picks one itself.
 */
export type TF = typeof import('@tensorflow/tfjs-core');
export type Tensor = import('@tensorflow/tfjs-core').Tensor;
