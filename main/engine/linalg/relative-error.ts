/**
 * The layer reconstruction error used everywhere in the engine, in float64.
 */

/**
 * Returns tr((W − Ŵ) H (W − Ŵ)ᵀ) / tr(W H Wᵀ), that is
 * ||X Wᵀ − X Ŵᵀ||² / ||X Wᵀ||² for H = XᵀX. W, Ŵ: [rows, cols]; H:
 * [cols, cols], symmetric (only its lower triangle is read). Returns 0 when
 * tr(W H Wᵀ) is 0 (nothing to reconstruct).
 */
export function relativeError(
  W: Float32Array | Float64Array,
  What: Float32Array | Float64Array,
  H: Float32Array | Float64Array,
  rows: number,
  cols: number,
): number {
  if (W.length !== rows * cols || What.length !== rows * cols || H.length !== cols * cols) {
    throw new RangeError(
      `relativeError: expected W and Ŵ of ${rows}×${cols} and H of ${cols}×${cols}, got ${W.length}, ${What.length} and ${H.length} entries.`,
    );
  }
  const h = H instanceof Float64Array ? H : Float64Array.from(H);

  let errorSum = 0;
  let denseSum = 0;
  // Rows go two at a time, each as its error e = w − ŵ and its weight w, so
  // one load of H serves four vectors; x H xᵀ = Σ_i x_i (H_ii x_i + 2 Σ_{j<i} H_ij x_j).
  const e0 = new Float64Array(cols);
  const w0 = new Float64Array(cols);
  const e1 = new Float64Array(cols);
  const w1 = new Float64Array(cols);
  for (let r = 0; r < rows; r += 2) {
    const pair = r + 1 < rows;
    for (let j = 0; j < cols; j++) {
      w0[j] = W[r * cols + j];
      e0[j] = w0[j] - What[r * cols + j];
      w1[j] = pair ? W[(r + 1) * cols + j] : 0;
      e1[j] = pair ? w1[j] - What[(r + 1) * cols + j] : 0;
    }

    for (let i = 0; i < cols; i++) {
      const rowOffset = i * cols;
      let se0 = 0;
      let sw0 = 0;
      let se1 = 0;
      let sw1 = 0;
      for (let j = 0; j < i; j++) {
        const value = h[rowOffset + j];
        se0 += value * e0[j];
        sw0 += value * w0[j];
        se1 += value * e1[j];
        sw1 += value * w1[j];
      }
      const diagonal = h[rowOffset + i];
      errorSum += e0[i] * (2 * se0 + diagonal * e0[i]) + e1[i] * (2 * se1 + diagonal * e1[i]);
      denseSum += w0[i] * (2 * sw0 + diagonal * w0[i]) + w1[i] * (2 * sw1 + diagonal * w1[i]);
    }
  }
  return denseSum > 0 ? errorSum / denseSum : 0;
}
