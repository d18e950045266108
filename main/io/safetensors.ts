/**
 * Streaming reader and atomic writer for the safetensors format.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON mapping
 * tensor names to `{dtype, shape, data_offsets: [begin, end]}` (offsets
 * relative to the end of the header) plus an optional `__metadata__` object,
 * then the raw little-endian tensor bytes.
 *
 * The reader parses and validates the header first and reads each tensor by
 * offset on request, so a caller holds only the tensors it asked for.
 * F16 and BF16 are widened to float32 as they are read.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Largest header accepted, as in the reference Rust implementation (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte range in the file, end exclusive. */
  begin: number;
  end: number;
}

/** A file that is not valid safetensors; the message names the file and the problem. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
  }
}

export class SafetensorsFile {
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;

  private constructor(
    readonly path: string,
    private fd: number | null,
    tensors: Map<string, TensorInfo>,
    metadata: Record<string, string>,
  ) {
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Opens `path` and validates its header: dtypes, shapes and offsets, with no gaps, overlaps or bytes past the end. */
  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'file not found' : `cannot be opened (${code ?? String(error)})`;
      throw new SafetensorsError(path, `${reason}. Check the path and its permissions.`);
    }
    try {
      const { tensors, metadata } = parseHeader(path, fd);
      return new SafetensorsFile(path, fd, tensors, metadata);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) {
      throw new SafetensorsError(this.path, `tensor "${name}" not found (the file has ${this.tensors.size} tensors).`);
    }
    return info;
  }

  /** Reads one tensor's raw bytes. */
  readBytes(name: string): Buffer {
    const info = this.info(name);
    if (this.fd === null) throw new SafetensorsError(this.path, 'file is closed.');
    const buffer = Buffer.allocUnsafe(info.end - info.begin);
    let done = 0;
    while (done < buffer.length) {
      const n = readSync(this.fd, buffer, done, buffer.length - done, info.begin + done);
      if (n === 0) throw new SafetensorsError(this.path, `unexpected end of file while reading "${name}".`);
      done += n;
    }
    return buffer;
  }

  /** Reads a floating-point tensor as float32 (F16, BF16 and F64 converted). */
  readFloat32(name: string): Float32Array {
    const info = this.info(name);
    return bytesToFloat32(this.readBytes(name), info.dtype, `${this.path}: tensor "${name}"`);
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

function parseHeader(path: string, fd: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) {
    throw new SafetensorsError(path, `file is ${fileSize} bytes, too short for a safetensors header (truncated?).`);
  }
  const lengthBytes = Buffer.alloc(8);
  readSync(fd, lengthBytes, 0, 8, 0);
  const headerLength = Number(lengthBytes.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileSize) {
    throw new SafetensorsError(
      path,
      `header length ${headerLength} runs past the end of the ${fileSize}-byte file: the file is truncated or not safetensors.`,
    );
  }
  const headerBytes = Buffer.alloc(headerLength);
  readSync(fd, headerBytes, 0, headerLength, 8);
  let header: unknown;
  try {
    header = JSON.parse(headerBytes.toString('utf8'));
  } catch (error) {
    throw new SafetensorsError(path, `header is not valid JSON (${(error as Error).message}).`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError(path, 'header is not a JSON object.');
  }

  const dataStart = 8 + headerLength;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    tensors.set(name, parseEntry(path, name, value, dataStart, fileSize));
  }

  // Tensors must not overlap: sort by start offset and compare neighbours.
  const ordered = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < ordered.length; i++) {
    const previous = ordered[i - 1]!;
    const current = ordered[i]!;
    if (current.begin < previous.end) {
      throw new SafetensorsError(path, `tensors "${previous.name}" and "${current.name}" overlap: the file is corrupt.`);
    }
  }
  return { tensors, metadata };
}

function parseEntry(path: string, name: string, value: unknown, dataStart: number, fileSize: number): TensorInfo {
  const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const dtype = entry?.dtype;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new SafetensorsError(
      path,
      `tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}: supported are ${Object.keys(DTYPE_BYTES).join(', ')}.`,
    );
  }
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new SafetensorsError(path, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}.`);
  }
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
    throw new SafetensorsError(path, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}.`);
  }
  const [relBegin, relEnd] = offsets as [number, number];
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const expectedBytes = elements * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (relEnd < relBegin || relEnd - relBegin !== expectedBytes) {
    throw new SafetensorsError(
      path,
      `tensor "${name}" spans ${relEnd - relBegin} bytes but its shape [${shape.join(', ')}] of ${dtype} needs ${expectedBytes}.`,
    );
  }
  if (dataStart + relEnd > fileSize) {
    throw new SafetensorsError(
      path,
      `tensor "${name}" ends at byte ${dataStart + relEnd}, past the end of the ${fileSize}-byte file: the file is truncated.`,
    );
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin: dataStart + relBegin, end: dataStart + relEnd };
}

/** Converts little-endian tensor bytes to float32. `label` names the tensor in errors. */
export function bytesToFloat32(bytes: Buffer, dtype: SafetensorsDtype, label: string): Float32Array {
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(bytes.length / 4);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(bytes.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = halfToFloat(bytes.readUInt16LE(2 * i));
      return out;
    }
    case 'BF16': {
      const bits = new Uint32Array(bytes.length / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = bytes.readUInt16LE(2 * i) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F64': {
      const out = new Float32Array(bytes.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = bytes.readDoubleLE(8 * i);
      return out;
    }
    default:
      throw new Error(`${label} has dtype ${dtype}, which is not a floating-point type.`);
  }
}

/** Narrows float32 values to the stored dtype's bytes (round to nearest even for F16 and BF16). */
export function float32ToBytes(values: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): Buffer {
  if (dtype === 'F32') return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.allocUnsafe(values.length * 2);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < values.length; i++) {
      const b = bits[i]!;
      const isNaN = (b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0;
      const rounded = isNaN ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
      out.writeUInt16LE(rounded & 0xffff, 2 * i);
    }
    return out;
  }
  for (let i = 0; i < values.length; i++) out.writeUInt16LE(floatToHalf(values[i]!), 2 * i);
  return out;
}

const conversionView = new DataView(new ArrayBuffer(4));

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

export function floatToHalf(value: number): number {
  conversionView.setFloat32(0, value);
  const x = conversionView.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // A carry out of the mantissa moves into the exponent, which is the correct rounding (up to infinity).
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  data: Float32Array;
}

/**
 * Writes tensors to `path` atomically: the bytes go to `path.partial` and are
 * renamed into place once complete, so a crash or a full disk never leaves a
 * half-written file under the final name. Tensors are stored in name order
 * with the header padded to a multiple of 8 bytes, as the Python writer does.
 */
export async function writeSafetensors(path: string, tensors: TensorToWrite[], metadata: Record<string, string> = { format: 'pt' }): Promise<void> {
  const ordered = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const payloads: Buffer[] = [];
  for (const tensor of ordered) {
    const expected = tensor.shape.reduce((a, b) => a * b, 1);
    if (expected !== tensor.data.length) {
      throw new Error(`Tensor "${tensor.name}" has ${tensor.data.length} values but shape [${tensor.shape.join(', ')}] needs ${expected}.`);
    }
    const bytes = float32ToBytes(tensor.data, tensor.dtype);
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    payloads.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  const partial = `${path}.partial`;
  const handle = await open(partial, 'w');
  try {
    await handle.write(lengthBytes);
    await handle.write(headerBytes);
    for (const bytes of payloads) await handle.write(bytes);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(partial, { force: true });
    throw error;
  }
  await handle.close();
  await rename(partial, path);
}
