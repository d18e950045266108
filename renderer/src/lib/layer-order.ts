/**
 * Sorting of per-layer rows into the model's forward order. Layers finish in
 * any order because several are pruned at once, so rows stored in finish
 * order are sorted by block, then by the position of the linear in a block.
 */

/** "blocks.3.attention.wq" with block 3 → "blocks.#.attention.wq": the name without its block index. */
function blockFreeName(name: string, block: number): string {
  return name.replace(`.${block}.`, '.#.');
}

/**
 * Sorts `rows` by block, then by the order of `blockLinears` (the linears of
 * block 0 in forward order, as the model summary lists them). Rows whose name
 * is not among them keep their relative order after the known ones.
 */
export function sortByForwardOrder<T extends { block: number; name: string }>(rows: T[], blockLinears: string[]): T[] {
  const rank = new Map(blockLinears.map((name, index) => [blockFreeName(name, 0), index]));
  const position = (row: T) => rank.get(blockFreeName(row.name, row.block)) ?? blockLinears.length;
  return [...rows].sort((a, b) => a.block - b.block || position(a) - position(b));
}
