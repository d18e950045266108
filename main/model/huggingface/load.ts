import type { LoadedModel, LoadOptions } from '../load.js';

/** Opens a Hugging Face model folder. */
export async function loadHuggingFace(folder: string, _options: LoadOptions): Promise<LoadedModel> {
  // TODO: the Hugging Face loader is not written yet; only llama2.c checkpoints load.
  throw new Error(`Hugging Face folders are not supported yet (${folder}).`);
}
