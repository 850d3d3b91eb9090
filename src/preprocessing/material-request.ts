/**
 * Material descriptors: what one preprocessing request asks for, as a typed union and as the
 * canonical key string that travels over the wire (triples.proto `MaterialRequest.key`) and
 * identifies a dealer slot.
 *
 *   triple:<size>                    a, b, c = a ⊙ b                     [size] ×3
 *   matrix:<m>x<k>x<n>               A [m,k], B [k,n], C = A·B [m,n]
 *   rowTriple:<rows>x<len>:<P|S>     a [rows,len], b [rows], ab = a ⊙ b per row [rows,len], and with S
 *                                    aa = a ⊙ a [rows,len] (semi-honest only; protocols/row-product.ts)
 *   fixedMask:<id>:<k>x<n>           B_id [k,n] (the same B every time)
 *   fixedAppend:<id>:<rows>x<n>      fresh rows [rows,n] appended to B_id
 *   fixedTriple:<id>:<m>:<N|T>       A, C = A·B_id (N) or A·B_idᵀ (T)
 *   square:<size>                    a, a ⊙ a                            [size] ×2
 *   trunc:<size>:<shift>             r, rMsb, rHigh                      [size] ×3
 *   truncSquare:<size>:<shift>       r, rMsb, rHigh, rHigh², rHigh·rMsb   [size] ×5 (semi-honest only;
 *                                    protocols/truncate-square.ts)
 *   truncRow:<rows>x<len>:<shift>    r, rMsb, rHigh [rows,len], b [rows], rMsb ⊙ b, rHigh ⊙ b per row
 *                                    [rows,len] (semi-honest only; protocols/truncate-row-product.ts)
 *   compare:<size>:<bits>            r, rMsb, rHigh, bits [bits,size]
 *   compareXor:<size>:<bits>[:<low>] r, rMsb, rHigh, s, a, b, ab [size] ×7, the digits of r's bits
 *                                    low..bits−1 one-hot (low: 0 when absent; > 0 for a coarse
 *                                    comparison), XOR-shared and packed [oneHotRows(bits, low),
 *                                    ⌈size/64⌉] (semi-honest only)
 *   compareRelu:<size>:<bits>[:<low>] compareXor's tensors, then r·rMsb, r·rHigh, r·s, r·a, r·b, r·ab
 *                                    [size] ×6 (semi-honest only; protocols/compare.ts relu)
 *   compareReluPair:<size>:<bits>[:<low>] compareRelu's tensors, then a second s, a, b, ab [size] ×4
 *                                    (semi-honest only; protocols/compare.ts reluAndCompare)
 *   chebMasks:<size>:<degree>        a_j per factor, a_m·a_j per pair of the Chebyshev doubling plan
 *                                    (chebyshev-plan.ts), [size] each (semi-honest only)
 *   chebTrunc:<size>:<degree>:<shift> a_1, (r, rMsb, rHigh) per truncated T_k, the products of mask
 *                                    parts of each pair (chebyshev-plan.ts fusedChebyshevLayout),
 *                                    [size] each (semi-honest only)
 *   random:<size>                    r                                   [size]
 *   bitTriple:<words>                a, b, c = a ∧ b, XOR-shared, 64 triples per word  [words] ×3 (semi-honest only)
 *   input:<owner>:<size>             r (and r in the clear to the owner) [size]
 *   oneHot:<rows>:<bits>             r uniform in [0, 2^bits) [rows], its one-hot rows e_r [rows, 2^bits]
 *                                    (protocols/index-one-hot.ts)
 *
 * Keys from the network are untrusted: {@link parseMaterialKey} accepts exactly the canonical
 * form (decimal integers without sign or leading zeros, ids of [A-Za-z0-9_./-]), so a key and its
 * parse round-trip, and bounds every size (the dealer allocates what a key asks for).
 */
import { ValidationError } from '../base/errors.ts';
import * as T from '../ring/tensor.ts';
import type { RingTensor } from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import {
  chebyshevPlan,
  fusedChebyshevLayout,
  fusedChebyshevTensors,
  MAX_FUSED_SHIFT,
  MAX_PLAN_DEGREE,
  splitChebyshevMasks,
  splitFusedChebyshevMasks,
} from './chebyshev-plan.ts';
import { oneHotRows } from './compare-digits.ts';
import { joinElements } from './element-axis.ts';
import { ONE_HOT_INDEX, PACKED_HEAD, packedCompareMasks, RELU_PRODUCTS, TOP_PARTS } from './material.ts';
import type {
  ChebyshevMasks,
  ChebyshevTruncMasks,
  FixedTriple,
  InputMask,
  MaskedBits,
  MaterialStats,
  OneHotMasks,
  ReluMasks,
  ReluPairMasks,
  RowTriple,
  SquarePair,
  Triple,
  TripleSource,
  TruncRowMasks,
  TruncSquareMasks,
  XorMaskedBits,
} from './material.ts';

export type MaterialDescriptor =
  | { readonly kind: 'triple'; readonly size: number }
  | { readonly kind: 'matrix'; readonly m: number; readonly k: number; readonly n: number }
  /** Row triple (material.ts RowTriple): y masked once per row; no sacrifice, so semi-honest sessions only. */
  | { readonly kind: 'rowTriple'; readonly rows: number; readonly len: number; readonly squares: boolean }
  | { readonly kind: 'fixedMask'; readonly id: string; readonly k: number; readonly n: number }
  | { readonly kind: 'fixedAppend'; readonly id: string; readonly rows: number; readonly n: number }
  | { readonly kind: 'fixedTriple'; readonly id: string; readonly m: number; readonly transposed: boolean }
  | { readonly kind: 'square'; readonly size: number }
  | { readonly kind: 'trunc'; readonly size: number; readonly shift: number }
  /** A truncation mask with rHigh² and rHigh·rMsb (protocols/truncate-square.ts; not sacrificed: semi-honest sessions only). */
  | { readonly kind: 'truncSquare'; readonly size: number; readonly shift: number }
  /** A truncation mask over rows with a row mask and its products (protocols/truncate-row-product.ts; semi-honest sessions only). */
  | { readonly kind: 'truncRow'; readonly rows: number; readonly len: number; readonly shift: number }
  | { readonly kind: 'compare'; readonly size: number; readonly bits: number }
  /**
   * Comparison masks for the binary comparator: r, rMsb, rHigh, a random bit s and an AND triple
   * of bits (a, b, ab) as arithmetic shares, and bit j of r (j < bits) of element i as bit i mod 64
   * of word ⌊i/64⌋ of row j, XOR-shared (no MACs: semi-honest sessions only).
   */
  | {
      readonly kind: 'compareXor' | 'compareRelu' | 'compareReluPair';
      readonly size: number;
      readonly bits: number;
      /** The low bits of r left out of the digits (a coarse comparison); 0 when absent. */
      readonly low?: number;
    }
  /** Chebyshev basis masks (chebyshev-plan.ts): a_j per factor, a_m·a_j per pair (no sacrifice: semi-honest sessions only). */
  | { readonly kind: 'chebMasks'; readonly size: number; readonly degree: number }
  /** Fused Chebyshev basis masks (chebyshev-plan.ts fusedChebyshevLayout; semi-honest sessions only). */
  | { readonly kind: 'chebTrunc'; readonly size: number; readonly degree: number; readonly shift: number }
  | { readonly kind: 'random'; readonly size: number }
  /** GF(2) AND triples packed 64 per word, XOR-shared (no MACs: semi-honest sessions only). `size` counts words. */
  | { readonly kind: 'bitTriple'; readonly size: number }
  | { readonly kind: 'input'; readonly owner: number; readonly size: number }
  /** `size` uniform indices r < 2^bits and their one-hot rows [size, 2^bits] (protocols/index-one-hot.ts). */
  | { readonly kind: 'oneHot'; readonly size: number; readonly bits: number };

export type MaterialKind = MaterialDescriptor['kind'];

export const MATERIAL_KINDS: readonly MaterialKind[] = [
  'triple',
  'matrix',
  'rowTriple',
  'fixedMask',
  'fixedAppend',
  'fixedTriple',
  'square',
  'trunc',
  'truncSquare',
  'truncRow',
  'compare',
  'compareXor',
  'compareRelu',
  'compareReluPair',
  'chebMasks',
  'chebTrunc',
  'random',
  'input',
  'bitTriple',
  'oneHot',
];

export interface RequestLimits {
  /**
   * Most ring elements one request may deal, summed over all its tensors (an input mask's clear
   * copy counts too). Bounds the dealer's memory and the size of one response.
   */
  readonly maxElements: number;
  /** Most parties (input owners are < this). */
  readonly maxParties: number;
  /**
   * Most elements of one fixed operand the dealer keeps (its mask B, built by fixedMask and
   * fixedAppend requests that each stay below maxElements). Bounds the dealer's memory per operand.
   */
  readonly maxOperandElements: number;
}

/** No practical bound: for the in-process dealer, whose callers are trusted. */
export const UNBOUNDED_LIMITS: RequestLimits = {
  maxElements: Number.MAX_SAFE_INTEGER,
  maxParties: 1 << 16,
  maxOperandElements: Number.MAX_SAFE_INTEGER,
};

/**
 * Default bounds for untrusted keys: 2^25 elements per request (≈ 256 MiB of Z_2^64 words);
 * fixed operands up to 2^27 elements (a GPT-2 token embedding has 38.6M).
 */
export const DEFAULT_REQUEST_LIMITS: RequestLimits = { maxElements: 1 << 25, maxParties: 64, maxOperandElements: 1 << 27 };

/** Fixed-operand ids: 1..200 characters of [A-Za-z0-9_./-] (e.g. `w.layers.0.wq`, `kv.0.k3`). */
export const FIXED_ID_RE = /^[A-Za-z0-9_./-]{1,200}$/;
/** Longest key {@link parseMaterialKey} looks at. */
export const MAX_KEY_LENGTH = 512;
/** Largest shift / bit count of masked bits (bits of r mod 2^64 below the MSB). */
export const MAX_MASK_BITS = 63;
/** Largest shift of truncRow material: the dealer truncation's offset 2^(62 − shift) must be an integer. */
export const MAX_TRUNC_ROW_SHIFT = 62;
/** Largest index width of oneHot material: one-hot rows of up to 2^20 entries (vocabularies up to 1,048,576). */
export const MAX_ONE_HOT_BITS = 20;

const UINT_RE = /^(?:0|[1-9][0-9]{0,14})$/;

/** The canonical key string of a descriptor. */
export function formatMaterialKey(d: MaterialDescriptor): string {
  switch (d.kind) {
    case 'triple':
    case 'square':
    case 'random':
    case 'bitTriple':
      return `${d.kind}:${d.size}`;
    case 'matrix':
      return `matrix:${d.m}x${d.k}x${d.n}`;
    case 'rowTriple':
      return `rowTriple:${d.rows}x${d.len}:${d.squares ? 'S' : 'P'}`;
    case 'truncRow':
      return `truncRow:${d.rows}x${d.len}:${d.shift}`;
    case 'fixedMask':
      return `fixedMask:${d.id}:${d.k}x${d.n}`;
    case 'fixedAppend':
      return `fixedAppend:${d.id}:${d.rows}x${d.n}`;
    case 'fixedTriple':
      return `fixedTriple:${d.id}:${d.m}:${d.transposed ? 'T' : 'N'}`;
    case 'trunc':
    case 'truncSquare':
      return `${d.kind}:${d.size}:${d.shift}`;
    case 'compare':
      return `${d.kind}:${d.size}:${d.bits}`;
    case 'compareXor':
    case 'compareRelu':
    case 'compareReluPair':
      return `${d.kind}:${d.size}:${d.bits}${d.low ? `:${d.low}` : ''}`;
    case 'chebMasks':
      return `chebMasks:${d.size}:${d.degree}`;
    case 'chebTrunc':
      return `chebTrunc:${d.size}:${d.degree}:${d.shift}`;
    case 'input':
      return `input:${d.owner}:${d.size}`;
    case 'oneHot':
      return `oneHot:${d.size}:${d.bits}`;
  }
}

/**
 * Parses an untrusted key into a validated descriptor. Throws a ValidationError (field `key`)
 * that says which part is wrong and what was expected.
 */
export function parseMaterialKey(key: string, limits: RequestLimits = DEFAULT_REQUEST_LIMITS): MaterialDescriptor {
  if (typeof key !== 'string' || key.length === 0) throw new ValidationError('empty material key', 'key');
  if (key.length > MAX_KEY_LENGTH) throw new ValidationError(`material key of ${key.length} characters, at most ${MAX_KEY_LENGTH}`, 'key');
  const parts = key.split(':');
  const kind = parts[0];
  const fail = (what: string): never => {
    throw new ValidationError(`bad material key ${JSON.stringify(key)}: ${what}`, 'key');
  };
  const arity = (count: number, form: string): void => {
    if (parts.length !== count) fail(`expected ${form}`);
  };
  const uint = (s: string, what: string): number => {
    if (!UINT_RE.test(s)) fail(`${what} must be a decimal integer without sign or leading zeros, got ${JSON.stringify(s)}`);
    return Number(s);
  };
  const dims = (s: string, count: number, names: string): number[] => {
    const ds = s.split('x');
    if (ds.length !== count) fail(`expected ${names}, got ${JSON.stringify(s)}`);
    return ds.map((x, i) => uint(x, names.split('x')[i]));
  };
  const id = (s: string): string => {
    if (!FIXED_ID_RE.test(s)) fail(`fixed operand id must be 1..200 characters of [A-Za-z0-9_./-], got ${JSON.stringify(s)}`);
    return s;
  };
  let d: MaterialDescriptor;
  switch (kind) {
    case 'triple':
    case 'square':
    case 'random':
    case 'bitTriple':
      arity(2, `${kind}:<size>`);
      d = { kind, size: uint(parts[1], 'size') };
      break;
    case 'matrix': {
      arity(2, 'matrix:<m>x<k>x<n>');
      const [m, k, n] = dims(parts[1], 3, 'mxkxn');
      d = { kind, m, k, n };
      break;
    }
    case 'rowTriple': {
      arity(3, 'rowTriple:<rows>x<len>:<P|S>');
      const [rows, len] = dims(parts[1], 2, 'rowsxlen');
      if (parts[2] !== 'P' && parts[2] !== 'S') fail(`expected P (products) or S (with squares), got ${JSON.stringify(parts[2])}`);
      d = { kind, rows, len, squares: parts[2] === 'S' };
      break;
    }
    case 'truncRow': {
      arity(3, 'truncRow:<rows>x<len>:<shift>');
      const [rows, len] = dims(parts[1], 2, 'rowsxlen');
      d = { kind, rows, len, shift: uint(parts[2], 'shift') };
      break;
    }
    case 'fixedMask': {
      arity(3, 'fixedMask:<id>:<k>x<n>');
      const [k, n] = dims(parts[2], 2, 'kxn');
      d = { kind, id: id(parts[1]), k, n };
      break;
    }
    case 'fixedAppend': {
      arity(3, 'fixedAppend:<id>:<rows>x<n>');
      const [rows, n] = dims(parts[2], 2, 'rowsxn');
      d = { kind, id: id(parts[1]), rows, n };
      break;
    }
    case 'fixedTriple':
      arity(4, 'fixedTriple:<id>:<m>:<N|T>');
      if (parts[3] !== 'N' && parts[3] !== 'T') fail(`orientation must be N or T, got ${JSON.stringify(parts[3])}`);
      d = { kind, id: id(parts[1]), m: uint(parts[2], 'm'), transposed: parts[3] === 'T' };
      break;
    case 'trunc':
    case 'truncSquare':
      arity(3, `${kind}:<size>:<shift>`);
      d = { kind, size: uint(parts[1], 'size'), shift: uint(parts[2], 'shift') };
      break;
    case 'compare':
      arity(3, `${kind}:<size>:<bits>`);
      d = { kind, size: uint(parts[1], 'size'), bits: uint(parts[2], 'bits') };
      break;
    case 'compareXor':
    case 'compareRelu':
    case 'compareReluPair': {
      if (parts.length !== 3 && parts.length !== 4) fail(`expected ${kind}:<size>:<bits> or ${kind}:<size>:<bits>:<low>`);
      const low = parts.length === 4 ? uint(parts[3], 'low') : 0;
      // Canonical: a zero low is written by leaving it out.
      if (parts.length === 4 && low === 0) fail('low must be at least 1 when given (leave it out for 0)');
      d = { kind, size: uint(parts[1], 'size'), bits: uint(parts[2], 'bits'), ...(low > 0 ? { low } : {}) };
      break;
    }
    case 'chebMasks':
      arity(3, 'chebMasks:<size>:<degree>');
      d = { kind, size: uint(parts[1], 'size'), degree: uint(parts[2], 'degree') };
      break;
    case 'chebTrunc':
      arity(4, 'chebTrunc:<size>:<degree>:<shift>');
      d = { kind, size: uint(parts[1], 'size'), degree: uint(parts[2], 'degree'), shift: uint(parts[3], 'shift') };
      break;
    case 'input':
      arity(3, 'input:<owner>:<size>');
      d = { kind, owner: uint(parts[1], 'owner'), size: uint(parts[2], 'size') };
      break;
    case 'oneHot':
      arity(3, 'oneHot:<rows>:<bits>');
      d = { kind, size: uint(parts[1], 'rows'), bits: uint(parts[2], 'bits') };
      break;
    default:
      return fail(`unknown kind ${JSON.stringify(kind)} (expected one of ${MATERIAL_KINDS.join(', ')})`);
  }
  validateDescriptor(d, limits);
  return d;
}

/**
 * Checks a descriptor's fields (integers, ranges, ids) and its element count against `limits`.
 * fixedTriple's size depends on the operand, so the dealer checks it with {@link dealtElements}.
 */
export function validateDescriptor(d: MaterialDescriptor, limits: RequestLimits = DEFAULT_REQUEST_LIMITS): void {
  const key = (): string => {
    try {
      return formatMaterialKey(d);
    } catch {
      return JSON.stringify(d);
    }
  };
  const fail = (what: string): never => {
    throw new ValidationError(`bad material request ${key()}: ${what}`, 'key');
  };
  const count = (v: unknown, what: string): void => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} must be a non-negative integer, got ${String(v)}`);
    if ((v as number) > limits.maxElements) fail(`${what} = ${String(v)} exceeds the limit of ${limits.maxElements} elements per request`);
  };
  if (d === null || typeof d !== 'object' || !MATERIAL_KINDS.includes(d.kind)) fail('unknown kind');
  switch (d.kind) {
    case 'triple':
    case 'square':
    case 'random':
    case 'bitTriple':
      count(d.size, 'size');
      break;
    case 'matrix':
      count(d.m, 'm');
      count(d.k, 'k');
      count(d.n, 'n');
      break;
    case 'rowTriple':
      count(d.rows, 'rows');
      count(d.len, 'len');
      if (typeof d.squares !== 'boolean') fail('squares must be a boolean');
      break;
    case 'truncRow':
      count(d.rows, 'rows');
      count(d.len, 'len');
      if (!Number.isInteger(d.shift) || d.shift < 1 || d.shift > MAX_TRUNC_ROW_SHIFT)
        fail(`shift must be an integer in [1, ${MAX_TRUNC_ROW_SHIFT}], got ${d.shift}`);
      break;
    case 'fixedMask':
    case 'fixedAppend':
    case 'fixedTriple':
      if (typeof d.id !== 'string' || !FIXED_ID_RE.test(d.id)) fail('fixed operand id must be 1..200 characters of [A-Za-z0-9_./-]');
      if (d.kind === 'fixedMask') {
        count(d.k, 'k');
        count(d.n, 'n');
      } else if (d.kind === 'fixedAppend') {
        count(d.rows, 'rows');
        count(d.n, 'n');
      } else {
        count(d.m, 'm');
        if (typeof d.transposed !== 'boolean') fail('transposed must be a boolean');
      }
      break;
    case 'trunc':
    case 'truncSquare':
    case 'compare':
    case 'compareXor':
    case 'compareRelu':
    case 'compareReluPair': {
      count(d.size, 'size');
      const [v, name] = d.kind === 'trunc' || d.kind === 'truncSquare' ? [d.shift, 'shift'] : [d.bits, 'bits'];
      if (!Number.isInteger(v) || v < 0 || v > MAX_MASK_BITS) fail(`${name} must be an integer in [0, ${MAX_MASK_BITS}], got ${v}`);
      if ('low' in d && d.low !== undefined && (!Number.isInteger(d.low) || d.low < 0 || d.low >= d.bits))
        fail(`low must be an integer in [0, ${d.bits - 1}] (below bits), got ${d.low}`);
      break;
    }
    case 'chebMasks':
    case 'chebTrunc':
      count(d.size, 'size');
      if (!Number.isInteger(d.degree) || d.degree < 2 || d.degree > MAX_PLAN_DEGREE)
        fail(`degree must be an integer in [2, ${MAX_PLAN_DEGREE}], got ${d.degree}`);
      if (d.kind === 'chebTrunc' && (!Number.isInteger(d.shift) || d.shift < 1 || d.shift > MAX_FUSED_SHIFT))
        fail(`shift must be an integer in [1, ${MAX_FUSED_SHIFT}], got ${d.shift}`);
      break;
    case 'input':
      count(d.size, 'size');
      if (!Number.isInteger(d.owner) || d.owner < 0 || d.owner >= limits.maxParties)
        fail(`owner must be a party index below ${limits.maxParties}, got ${d.owner}`);
      break;
    case 'oneHot':
      count(d.size, 'rows');
      if (!Number.isInteger(d.bits) || d.bits < 1 || d.bits > MAX_ONE_HOT_BITS)
        fail(`bits must be an integer in [1, ${MAX_ONE_HOT_BITS}], got ${d.bits}`);
      break;
  }
  if (d.kind !== 'fixedTriple') {
    const total = dealtElements(d);
    if (total > limits.maxElements) fail(`deals ${total} elements, above the limit of ${limits.maxElements} per request`);
  }
}

/**
 * Ring elements a request deals, over all tensors (plus the clear copy of an input mask).
 * fixedTriple needs the operand's shape [k, n].
 */
export function dealtElements(d: MaterialDescriptor, operand?: readonly number[]): number {
  switch (d.kind) {
    case 'triple':
      return 3 * d.size;
    case 'square':
      return 2 * d.size;
    case 'random':
      return d.size;
    case 'bitTriple':
      return 3 * d.size;
    case 'input':
      return 2 * d.size;
    case 'matrix':
      return d.m * d.k + d.k * d.n + d.m * d.n;
    case 'rowTriple':
      return d.rows * ((d.squares ? 3 : 2) * d.len + 1);
    case 'truncRow':
      return d.rows * (5 * d.len + 1);
    case 'fixedMask':
      return d.k * d.n;
    case 'fixedAppend':
      return d.rows * d.n;
    case 'fixedTriple': {
      if (!operand) throw new RangeError('dealtElements: fixedTriple needs the operand shape');
      const [k, n] = operand;
      return d.m * (k + n);
    }
    case 'trunc':
      return 3 * d.size;
    case 'truncSquare':
      return 5 * d.size;
    case 'compare':
      return (3 + d.bits) * d.size;
    case 'compareXor':
    case 'compareRelu':
    case 'compareReluPair':
      return PACKED_COMPARE_VECTORS[d.kind] * d.size + oneHotRows(d.bits, d.low) * xorWords(d.size);
    case 'chebMasks':
      return chebTensors(d.degree) * d.size;
    case 'chebTrunc':
      return fusedChebyshevTensors(fusedChebyshevLayout(d.degree, d.shift)) * d.size;
    case 'oneHot':
      return d.size * (1 + 2 ** d.bits);
  }
}

/** The shapes of the tensors a request deals, in order (fixedTriple: needs the operand's [k, n]). */
export function dealtShapes(d: MaterialDescriptor, operand?: readonly number[]): number[][] {
  switch (d.kind) {
    case 'triple':
    case 'bitTriple':
      return [[d.size], [d.size], [d.size]];
    case 'square':
      return [[d.size], [d.size]];
    case 'random':
    case 'input':
      return [[d.size]];
    case 'matrix':
      return [
        [d.m, d.k],
        [d.k, d.n],
        [d.m, d.n],
      ];
    case 'rowTriple': {
      const table = [[d.rows, d.len], [d.rows], [d.rows, d.len]];
      return d.squares ? [...table, [d.rows, d.len]] : table;
    }
    case 'truncRow':
      return [[d.rows, d.len], [d.rows, d.len], [d.rows, d.len], [d.rows], [d.rows, d.len], [d.rows, d.len]];
    case 'fixedMask':
      return [[d.k, d.n]];
    case 'fixedAppend':
      return [[d.rows, d.n]];
    case 'fixedTriple': {
      if (!operand) throw new RangeError('dealtShapes: fixedTriple needs the operand shape');
      const [k, n] = operand;
      return d.transposed
        ? [
            [d.m, n],
            [d.m, k],
          ]
        : [
            [d.m, k],
            [d.m, n],
          ];
    }
    case 'trunc':
      return [[d.size], [d.size], [d.size]];
    case 'truncSquare':
      return Array.from({ length: 5 }, () => [d.size]);
    case 'compare':
      return [[d.size], [d.size], [d.size], [d.bits, d.size]];
    case 'compareXor':
    case 'compareRelu':
    case 'compareReluPair': {
      // [size] vectors, the packed one-hot digits at ONE_HOT_INDEX.
      const shapes = Array.from({ length: PACKED_COMPARE_VECTORS[d.kind] + 1 }, () => [d.size]);
      shapes[ONE_HOT_INDEX] = [oneHotRows(d.bits, d.low), xorWords(d.size)];
      return shapes;
    }
    case 'chebMasks':
      return Array.from({ length: chebTensors(d.degree) }, () => [d.size]);
    case 'chebTrunc':
      return Array.from({ length: fusedChebyshevTensors(fusedChebyshevLayout(d.degree, d.shift)) }, () => [d.size]);
    case 'oneHot':
      return [[d.size], [d.size, 2 ** d.bits]];
  }
}

/** Tensors of a chebMasks request: one mask per factor, one product per pair (degree validated first). */
function chebTensors(degree: number): number {
  const plan = chebyshevPlan(degree);
  return plan.factors.length + plan.pairs.length;
}

/** Ring-element vectors [size] of each packed comparison kind (its tensors besides the one-hot digits). */
const PACKED_COMPARE_VECTORS: Readonly<Record<'compareXor' | 'compareRelu' | 'compareReluPair', number>> = {
  compareXor: PACKED_HEAD - 1,
  compareRelu: PACKED_HEAD - 1 + RELU_PRODUCTS,
  compareReluPair: PACKED_HEAD - 1 + RELU_PRODUCTS + TOP_PARTS.length,
};

/** 64-bit words holding `size` packed bits. */
export const xorWords = (size: number): number => Math.ceil(size / 64);

/** What a source fetched for one request: the party's tensors in order, and an input mask's clear copy. */
export interface FetchedMaterial {
  readonly parts: SecretTensor[];
  readonly clear?: RingTensor;
}

/**
 * A TripleSource that turns every call into a {@link MaterialDescriptor} and assembles the result
 * from the fetched tensors; implementations supply `fetch` (and count `stats`). `fetch` must
 * issue the request synchronously when called (before its first await), so requests keep the
 * order of the calls.
 */
export abstract class DescriptorTripleSource implements TripleSource {
  abstract readonly name: string;
  readonly stats: MaterialStats = { bytesReceived: 0, requests: 0 };
  /**
   * Largest request this source sends, in dealt elements (what fits one message). Larger fixed
   * masks go as one fixedMask of the first rows plus fixedAppend requests for the rest; larger
   * elementwise requests as several requests; results are concatenated. All requests of one
   * call are issued before any await, so the order of calls is kept.
   */
  protected chunkElements: number = Number.POSITIVE_INFINITY;

  abstract macKeyShare(): Promise<bigint | undefined>;
  protected abstract fetch(d: MaterialDescriptor): Promise<FetchedMaterial>;

  /**
   * Fetches an elementwise request, split into pieces of at most `chunkElements` dealt elements
   * (all issued before any await), joined along the element axis.
   */
  async #fetchSplit(d: Extract<MaterialDescriptor, { size: number }>): Promise<FetchedMaterial> {
    const perElement = dealtElements({ ...d, size: 1 });
    // Packed bits split at word boundaries (64 elements), so the pieces' words join.
    const unit = d.kind in PACKED_COMPARE_VECTORS ? 64 : 1;
    const step = unit * Math.max(1, Math.floor(this.chunkElements / perElement / unit));
    if (d.size <= step) return this.fetch(d);
    const pending: Promise<FetchedMaterial>[] = [];
    for (let off = 0; off < d.size; off += step) pending.push(this.fetch({ ...d, size: Math.min(step, d.size - off) }));
    const got = await Promise.all(pending);
    const clears = got.map((g) => g.clear);
    return {
      parts: got[0].parts.map((_, i) => joinElements(got.map((g) => g.parts[i]))),
      clear: clears.every((c): c is RingTensor => c !== undefined) ? T.concatFlat(clears[0].ring, clears) : undefined,
    };
  }

  async triples(size: number): Promise<Triple> {
    const [a, b, c] = (await this.#fetchSplit({ kind: 'triple', size })).parts;
    return { a, b, c };
  }

  async bitTriples(words: number): Promise<Triple> {
    const [a, b, c] = (await this.#fetchSplit({ kind: 'bitTriple', size: words })).parts;
    return { a, b, c };
  }

  /**
   * Fetches a request of `rows` rows split by rows, each piece within chunkElements (all issued
   * before any await), and joins every tensor along its rows: [rows] or [rows, ...shape[1:]].
   */
  async #fetchRows(rows: number, request: (rows: number) => MaterialDescriptor): Promise<SecretTensor[]> {
    const step = Math.max(1, Math.floor(this.chunkElements / dealtElements(request(1))));
    const pending: Promise<FetchedMaterial>[] = [];
    for (let r = 0; r < rows || r === 0; r += step) pending.push(this.fetch(request(Math.min(step, rows - r))));
    const got = (await Promise.all(pending)).map((f) => f.parts);
    if (got.length === 1) return got[0];
    return got[0].map((t, i) => L.reshapeS(L.concatS(got.map((p) => p[i])), [rows, ...t.shape.slice(1)]));
  }

  async rowTriple(rows: number, len: number, squares: boolean): Promise<RowTriple> {
    const [a, b, ab, aa] = await this.#fetchRows(rows, (r) => ({ kind: 'rowTriple', rows: r, len, squares }));
    return { a, b, ab, aa: squares ? aa : undefined };
  }

  async matrixTriple(m: number, k: number, n: number): Promise<Triple> {
    const [a, b, c] = (await this.fetch({ kind: 'matrix', m, k, n })).parts;
    return { a, b, c };
  }

  fixedMask(id: string, k: number, n: number): Promise<SecretTensor> {
    return this.#maskRows(id, 0, k, n);
  }

  fixedMaskRows(id: string, start: number, rows: number, n: number): Promise<SecretTensor> {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(rows) || rows < 1)
      return Promise.reject(
        new RangeError(`fixedMaskRows ${id}: expected start ≥ 0 and rows ≥ 1 (integers), got start ${start}, rows ${rows}`),
      );
    return this.#maskRows(id, start, rows, n);
  }

  /** Mask rows [start, start + rows): the first request of an operand is a fixedMask, the rest fixedAppend, each within `chunkElements`. */
  async #maskRows(id: string, start: number, rows: number, n: number): Promise<SecretTensor> {
    const step = Math.max(1, Math.floor(this.chunkElements / Math.max(1, n)));
    const pending: Promise<FetchedMaterial>[] = [];
    for (let r = 0; r < rows; r += step) {
      const m = Math.min(step, rows - r);
      pending.push(this.fetch(start + r === 0 ? { kind: 'fixedMask', id, k: m, n } : { kind: 'fixedAppend', id, rows: m, n }));
    }
    const parts = (await Promise.all(pending)).map((f) => f.parts[0]);
    return parts.length === 1 ? parts[0] : L.reshapeS(L.concatS(parts), [rows, n]);
  }

  async fixedAppend(id: string, rows: number, n: number): Promise<SecretTensor> {
    return (await this.fetch({ kind: 'fixedAppend', id, rows, n })).parts[0];
  }

  async fixedTriple(id: string, m: number, transposed = false): Promise<FixedTriple> {
    const [a, c] = (await this.fetch({ kind: 'fixedTriple', id, m, transposed })).parts;
    return { a, c };
  }

  async inputMask(owner: number, size: number): Promise<InputMask> {
    const { parts, clear } = await this.#fetchSplit({ kind: 'input', owner, size });
    return { mask: parts[0], clear };
  }

  async squares(size: number): Promise<SquarePair> {
    const [a, aa] = (await this.#fetchSplit({ kind: 'square', size })).parts;
    return { a, aa };
  }

  async truncMasks(size: number, shift: number): Promise<MaskedBits> {
    const [r, rMsb, rHigh] = (await this.#fetchSplit({ kind: 'trunc', size, shift })).parts;
    return { shift, r, rMsb, rHigh, bits: undefined };
  }

  async truncSquareMasks(size: number, shift: number): Promise<TruncSquareMasks> {
    const [r, rMsb, rHigh, highSquared, highMsb] = (await this.#fetchSplit({ kind: 'truncSquare', size, shift })).parts;
    return { shift, r, rMsb, rHigh, highSquared, highMsb };
  }

  async truncRowMasks(rows: number, len: number, shift: number): Promise<TruncRowMasks> {
    const [r, rMsb, rHigh, b, msbB, highB] = await this.#fetchRows(rows, (n) => ({ kind: 'truncRow', rows: n, len, shift }));
    return { shift, r, rMsb, rHigh, b, msbB, highB };
  }

  async compareMasks(size: number, bits: number): Promise<MaskedBits> {
    const [r, rMsb, rHigh, b] = (await this.#fetchSplit({ kind: 'compare', size, bits })).parts;
    return { shift: bits, r, rMsb, rHigh, bits: b };
  }

  async compareXorMasks(size: number, bits: number, low = 0): Promise<XorMaskedBits> {
    return this.#packedCompare('compareXor', size, bits, low);
  }

  async reluMasks(size: number, bits: number, low = 0): Promise<ReluMasks> {
    return (await this.#packedCompare('compareRelu', size, bits, low)) as ReluMasks;
  }

  async reluPairMasks(size: number, bits: number, low = 0): Promise<ReluPairMasks> {
    return (await this.#packedCompare('compareReluPair', size, bits, low)) as ReluPairMasks;
  }

  async #packedCompare(
    kind: 'compareXor' | 'compareRelu' | 'compareReluPair',
    size: number,
    bits: number,
    low: number,
  ): Promise<XorMaskedBits | ReluMasks | ReluPairMasks> {
    const d = { kind, size, bits, ...(low > 0 ? { low } : {}) };
    return packedCompareMasks((await this.#fetchSplit(d)).parts, bits, low);
  }

  async chebyshevMasks(size: number, degree: number): Promise<ChebyshevMasks> {
    return splitChebyshevMasks((await this.#fetchSplit({ kind: 'chebMasks', size, degree })).parts, degree);
  }

  async chebyshevTruncMasks(size: number, degree: number, shift: number): Promise<ChebyshevTruncMasks> {
    const parts = (await this.#fetchSplit({ kind: 'chebTrunc', size, degree, shift })).parts;
    return splitFusedChebyshevMasks(parts, fusedChebyshevLayout(degree, shift));
  }

  async randoms(size: number): Promise<SecretTensor> {
    return (await this.#fetchSplit({ kind: 'random', size })).parts[0];
  }

  async oneHotMasks(rows: number, bits: number): Promise<OneHotMasks> {
    const [r, oneHot] = await this.#fetchRows(rows, (size) => ({ kind: 'oneHot', size, bits }));
    return { r, oneHot };
  }
}
