/**
 * Material fetched ahead: a TripleSource wrapper that serves elementwise material (triples,
 * bit triples, square pairs, truncation and comparison masks incl. packed ones, randoms) from local pools filled by large batch
 * requests to the underlying source, and requests the next batch as soon as a pool falls below
 * half — while the protocol computes — so most protocol steps never wait for a round trip to the
 * dealer. Fixed-operand triples of few rows (decode steps) for operands that never grow (weight
 * matrices) are pooled the same way, by rows: A's rows are independent, so one request for m·8
 * rows of (A, A·B) serves 8 products. Row triples are pooled by rows too (those without squares
 * in classes of 64 columns: softmax's rows grow with the context), and so are truncation masks with
 * row products. Matrix triples, fixed masks, triples of growing operands
 * (KV cache) and input masks pass straight through.
 *
 * Consistency: every party makes the same calls in the same order (the computation's control
 * flow is public), so every party's pools hold the same batches at the same points and slice
 * them identically; refills are issued at the same call on every party, so the underlying
 * request order stays identical too. A request larger than a batch goes straight through.
 * Elements of a batch that are never used (the tail at the end of a session) are discarded.
 *
 * Desynchronisation: two parties whose calls differ may be served from their pools without the
 * dealer seeing it (the dealer only sees batch requests); it surfaces at the next request that
 * differs, or as a failed MAC check in malicious mode — never as a wrong token there. In
 * semi-honest mode parties follow the protocol by assumption, so a desync is a bug, not an attack.
 */
import * as L from '../sharing/linear.ts';
import { joinElements, sliceElements } from './element-axis.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { fusedChebyshevLayout, splitChebyshevMasks, splitFusedChebyshevMasks } from './chebyshev-plan.ts';
import { ONE_HOT_INDEX, packedCompareMasks, packedCompareTensors } from './material.ts';
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

/** A batch: tensors whose last axis is the element index (shape [n] or [rows, n]). */
interface Batch {
  readonly size: number;
  readonly tensors: readonly (SecretTensor | undefined)[];
  /**
   * Elements per index of each tensor's last axis (default 1; 64 for packed bits). Takes and
   * batch sizes of such pools are multiples of the unit, so slices stay word-aligned.
   */
  readonly units?: readonly number[];
  /** Slice along the first axis (rows of fixed-operand triples) instead of the last. */
  readonly byRow?: boolean;
}

/** Rows [off, off + n) of a tensor [rows, cols]. */
function sliceRows(t: SecretTensor, off: number, n: number): SecretTensor {
  const cols = t.shape[1];
  return L.reshapeS(L.sliceS(t, off * cols, (off + n) * cols), [n, cols]);
}

function joinRows(parts: readonly SecretTensor[]): SecretTensor {
  return L.reshapeS(L.concatS(parts), [parts.reduce((s, p) => s + p.shape[0], 0), parts[0].shape[1]]);
}

class Pool {
  #ready: Batch[] = [];
  #offset = 0;
  #available = 0;
  #inflight: Promise<void> | undefined;

  constructor(
    private readonly batchSize: number,
    private readonly fetchBatch: (size: number) => Promise<Batch>,
  ) {}

  /** Issues the next batch request now (synchronously) unless one is in flight. */
  #refill(): Promise<void> {
    this.#inflight ??= this.fetchBatch(this.batchSize).then((b) => {
      this.#ready.push(b);
      this.#available += b.size;
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** `size` elements of every tensor, in order; refills ahead. Concurrent takes are served in call order. */
  async take(size: number): Promise<(SecretTensor | undefined)[]> {
    return (await this.takeFrom(size)).parts;
  }

  /** {@link take}, with the batch and offset the elements came from when they came from one batch. */
  async takeFrom(size: number): Promise<{ parts: (SecretTensor | undefined)[]; source: { batch: Batch; offset: number } | undefined }> {
    while (this.#available < size) await this.#refill();
    const pieces: (SecretTensor | undefined)[][] = [];
    let need = size;
    // A pool's batches are all of one kind.
    const byRow = this.#ready[0]?.byRow === true;
    const source =
      this.#ready.length > 0 && this.#ready[0].size - this.#offset >= size ? { batch: this.#ready[0], offset: this.#offset } : undefined;
    while (need > 0) {
      const b = this.#ready[0];
      const n = Math.min(need, b.size - this.#offset);
      const u = b.units;
      const off = this.#offset;
      pieces.push(
        b.tensors.map((t, i) => t && (b.byRow ? sliceRows(t, off, n) : sliceElements(t, off / (u?.[i] ?? 1), n / (u?.[i] ?? 1)))),
      );
      this.#offset += n;
      need -= n;
      if (this.#offset === b.size) {
        this.#ready.shift();
        this.#offset = 0;
      }
    }
    this.#available -= size;
    // Fetch ahead: keep a batch in flight once less than half a batch is left.
    if (this.#available < this.batchSize / 2) void this.#refill().catch(() => undefined); // a failure surfaces at the next take
    const join = byRow ? joinRows : joinElements;
    return { parts: pieces[0].map((t, i) => (t && pieces.length > 1 ? join(pieces.map((p) => p[i] as SecretTensor)) : t)), source };
  }
}

export interface PooledSourceOptions {
  /** Elements per batch request (default 2^16). */
  readonly batchSize?: number;
  /**
   * Products per batch of fixed-operand triples with few rows (default 8): for operands that
   * never grow (weights), `fixedTriple(id, m)` with m ≤ 4 is served from batches of
   * m·fixedBatchUses rows fetched ahead. 0 disables.
   */
  readonly fixedBatchUses?: number;
}

/** The first `len` of a growing-row class's `cap` columns (the tensor itself when they are all). */
function firstColumns(t: SecretTensor, cap: number, len: number): SecretTensor {
  return cap === len ? t : sliceElements(t, 0, len);
}

/** Product-only row triples are pooled in classes of this many columns (row-product.ts; softmax's rows). */
const ROW_CAPACITY = 64;

/** Fixed-operand triples of at most this many rows are pooled (decode steps). */
const POOLED_FIXED_ROWS = 4;

export class PooledTripleSource implements TripleSource {
  readonly name: string;
  readonly #inner: TripleSource;
  readonly #batch: number;
  readonly #pools = new Map<string, Pool>();
  readonly #fixedUses: number;
  /** Fixed operands created by fixedMask or fixedMaskRows and never appended to: their triples can be dealt ahead. */
  readonly #static = new Set<string>();
  /** The pool key of the current capacity class of each growing-row family (#growingRowPool). */
  readonly #rowClasses = new Map<string, string>();

  constructor(inner: TripleSource, o: PooledSourceOptions = {}) {
    this.#inner = inner;
    this.#batch = o.batchSize ?? 1 << 16;
    if (!(Number.isInteger(this.#batch) && this.#batch >= 1))
      throw new RangeError(`batchSize must be a positive integer, got ${this.#batch}`);
    this.#fixedUses = o.fixedBatchUses ?? 8;
    if (!(Number.isInteger(this.#fixedUses) && this.#fixedUses >= 0))
      throw new RangeError(`fixedBatchUses must be a non-negative integer, got ${this.#fixedUses}`);
    this.name = `pooled(${inner.name})`;
  }

  get stats(): Readonly<MaterialStats> {
    return this.#inner.stats;
  }

  #pool(key: string, fetch: (size: number) => Promise<Batch>, batchSize = this.#batch): Pool {
    let p = this.#pools.get(key);
    if (!p) this.#pools.set(key, (p = new Pool(batchSize, fetch)));
    return p;
  }

  macKeyShare(): Promise<bigint | undefined> {
    return this.#inner.macKeyShare();
  }

  async triples(size: number): Promise<Triple> {
    if (size > this.#batch) return this.#inner.triples(size);
    const pool = this.#pool('triple', async (n) => {
      const t = await this.#inner.triples(n);
      return { size: n, tensors: [t.a, t.b, t.c] };
    });
    const [a, b, c] = (await pool.take(size)) as SecretTensor[];
    return { a, b, c };
  }

  async bitTriples(words: number): Promise<Triple> {
    if (words > this.#batch) return this.#inner.bitTriples(words);
    const pool = this.#pool('bitTriple', async (n) => {
      const t = await this.#inner.bitTriples(n);
      return { size: n, tensors: [t.a, t.b, t.c] };
    });
    const [a, b, c] = (await pool.take(words)) as SecretTensor[];
    return { a, b, c };
  }

  async squares(size: number): Promise<SquarePair> {
    if (size > this.#batch) return this.#inner.squares(size);
    const pool = this.#pool('square', async (n) => {
      const t = await this.#inner.squares(n);
      return { size: n, tensors: [t.a, t.aa] };
    });
    const [a, aa] = (await pool.take(size)) as SecretTensor[];
    return { a, aa };
  }

  truncMasks(size: number, shift: number): Promise<MaskedBits> {
    if (size > this.#batch) return this.#inner.truncMasks(size, shift);
    return this.#masks(`trunc:${shift}`, size, shift, (n) => this.#inner.truncMasks(n, shift));
  }

  async truncSquareMasks(size: number, shift: number): Promise<TruncSquareMasks> {
    if (size > this.#batch) return this.#inner.truncSquareMasks(size, shift);
    const pool = this.#pool(`truncSquare:${shift}`, async (n) => {
      const m = await this.#inner.truncSquareMasks(n, shift);
      return { size: n, tensors: [m.r, m.rMsb, m.rHigh, m.highSquared, m.highMsb] };
    });
    const [r, rMsb, rHigh, highSquared, highMsb] = (await pool.take(size)) as SecretTensor[];
    return { shift, r, rMsb, rHigh, highSquared, highMsb };
  }

  compareMasks(size: number, bits: number): Promise<MaskedBits> {
    if (size > this.#batch) return this.#inner.compareMasks(size, bits);
    return this.#masks(`compare:${bits}`, size, bits, (n) => this.#inner.compareMasks(n, bits));
  }

  async #masks(key: string, size: number, shift: number, fetch: (n: number) => Promise<MaskedBits>): Promise<MaskedBits> {
    const pool = this.#pool(key, async (n) => {
      const m = await fetch(n);
      return { size: n, tensors: [m.r, m.rMsb, m.rHigh, m.bits] };
    });
    const [r, rMsb, rHigh, bits] = await pool.take(size);
    return { shift, r: r as SecretTensor, rMsb: rMsb as SecretTensor, rHigh: rHigh as SecretTensor, bits };
  }

  compareXorMasks(size: number, bits: number, low = 0): Promise<XorMaskedBits> {
    return this.#packedCompareMasks(size, bits, low, 'compareXor');
  }

  async reluMasks(size: number, bits: number, low = 0): Promise<ReluMasks> {
    return (await this.#packedCompareMasks(size, bits, low, 'compareRelu')) as ReluMasks;
  }

  async reluPairMasks(size: number, bits: number, low = 0): Promise<ReluPairMasks> {
    return (await this.#packedCompareMasks(size, bits, low, 'compareReluPair')) as ReluPairMasks;
  }

  /** compareXor material, with compareRelu's products r·part and compareReluPair's second top level after the one-hot digits. */
  async #packedCompareMasks(
    size: number,
    bits: number,
    low: number,
    kind: 'compareXor' | 'compareRelu' | 'compareReluPair',
  ): Promise<XorMaskedBits | ReluMasks | ReluPairMasks> {
    const fetch = (n: number): Promise<XorMaskedBits | ReluMasks | ReluPairMasks> =>
      kind === 'compareXor'
        ? this.#inner.compareXorMasks(n, bits, low)
        : kind === 'compareRelu'
          ? this.#inner.reluMasks(n, bits, low)
          : this.#inner.reluPairMasks(n, bits, low);
    // Served in whole words (64 elements): the unused tail of the last word's masks is discarded.
    const words = Math.ceil(size / 64);
    if (64 * words > this.#batch || this.#batch % 64 !== 0) return fetch(size);
    const pool = this.#pool(`${kind}:${bits}:${low}`, async (n) => {
      const tensors = packedCompareTensors(await fetch(n));
      return { size: n, tensors, units: tensors.map((_, i) => (i === ONE_HOT_INDEX ? 64 : 1)) };
    });
    const parts = (await pool.take(64 * words)) as SecretTensor[];
    const head = (t: SecretTensor, i: number): SecretTensor => (i === ONE_HOT_INDEX || t.shape[0] === size ? t : sliceElements(t, 0, size));
    return packedCompareMasks(parts.map(head), bits, low);
  }

  async chebyshevMasks(size: number, degree: number): Promise<ChebyshevMasks> {
    if (size > this.#batch) return this.#inner.chebyshevMasks(size, degree);
    const pool = this.#pool(`chebMasks:${degree}`, async (n) => {
      const m = await this.#inner.chebyshevMasks(n, degree);
      return { size: n, tensors: [...m.masks, ...m.products] };
    });
    return splitChebyshevMasks((await pool.take(size)) as SecretTensor[], degree);
  }

  async chebyshevTruncMasks(size: number, degree: number, shift: number): Promise<ChebyshevTruncMasks> {
    if (size > this.#batch) return this.#inner.chebyshevTruncMasks(size, degree, shift);
    const layout = fusedChebyshevLayout(degree, shift);
    const pool = this.#pool(`chebTrunc:${degree}:${shift}`, async (n) => {
      const m = await this.#inner.chebyshevTruncMasks(n, degree, shift);
      return { size: n, tensors: [m.a1, ...m.trunc.flatMap((t) => [t.r, t.rMsb, t.rHigh]), ...m.terms.flat()] };
    });
    return splitFusedChebyshevMasks((await pool.take(size)) as SecretTensor[], layout);
  }

  oneHotMasks(rows: number, bits: number): Promise<OneHotMasks> {
    return this.#inner.oneHotMasks(rows, bits);
  }

  async randoms(size: number): Promise<SecretTensor> {
    if (size > this.#batch) return this.#inner.randoms(size);
    const pool = this.#pool('random', async (n) => ({ size: n, tensors: [await this.#inner.randoms(n)] }));
    return (await pool.take(size))[0] as SecretTensor;
  }

  async rowTriple(rows: number, len: number, squares: boolean): Promise<RowTriple> {
    // Pooled by rows. With squares (norms) the row length is the same at every call; product-only
    // row triples (softmax's, whose rows grow with the context) come from a growing-row pool.
    const cap = squares ? len : ROW_CAPACITY * Math.ceil(len / ROW_CAPACITY);
    const perRow = (squares ? 3 : 2) * cap + 1;
    if (len === 0 || rows * perRow > this.#batch / 2) return this.#inner.rowTriple(rows, len, squares);
    const fetch = async (n: number): Promise<Batch> => {
      const t = await this.#inner.rowTriple(n, cap, squares);
      return { size: n, tensors: [t.a, L.reshapeS(t.b, [n, 1]), t.ab, t.aa], byRow: true };
    };
    const pool = squares
      ? this.#pool(`rowTriple:${cap}:S`, fetch, Math.max(1, Math.floor(this.#batch / perRow)))
      : this.#growingRowPool('rowTriple:P', cap, perRow, rows, fetch);
    const [a, b, ab, aa] = await pool.take(rows);
    const first = (t: SecretTensor): SecretTensor => firstColumns(t, cap, len);
    return { a: first(a as SecretTensor), b: L.reshapeS(b as SecretTensor, [rows]), ab: first(ab as SecretTensor), aa };
  }

  async truncRowMasks(rows: number, len: number, shift: number): Promise<TruncRowMasks> {
    const cap = ROW_CAPACITY * Math.ceil(len / ROW_CAPACITY);
    const perRow = 5 * cap + 1;
    // Up to two batches per take (softmax's 12 rows at context 1,024 deal 61k elements).
    if (len === 0 || rows * perRow > 2 * this.#batch) return this.#inner.truncRowMasks(rows, len, shift);
    const pool = this.#growingRowPool(`truncRow:${shift}`, cap, perRow, rows, async (n) => {
      const m = await this.#inner.truncRowMasks(n, cap, shift);
      return { size: n, tensors: [m.r, m.rMsb, m.rHigh, L.reshapeS(m.b, [n, 1]), m.msbB, m.highB], byRow: true };
    });
    const [r, rMsb, rHigh, b, msbB, highB] = (await pool.take(rows)) as SecretTensor[];
    const first = (t: SecretTensor): SecretTensor => firstColumns(t, cap, len);
    return { shift, r: first(r), rMsb: first(rMsb), rHigh: first(rHigh), b: L.reshapeS(b, [rows]), msbB: first(msbB), highB: first(highB) };
  }

  /**
   * The pool of a family of per-row material whose rows grow with the context (softmax's): rows
   * of `cap` columns (the next multiple of 64 above the row length), of which each take keeps
   * the first `len` (any columns of such material are one); one pool per family and 64 context
   * positions, the previous one dropped when the class changes, so pools stay bounded while the
   * context grows. A batch holds at least one take of `rows`.
   */
  #growingRowPool(family: string, cap: number, perRow: number, rows: number, fetch: (n: number) => Promise<Batch>): Pool {
    const key = `${family}:${cap}`;
    const current = this.#rowClasses.get(family);
    if (current !== key) {
      if (current) this.#pools.delete(current);
      this.#rowClasses.set(family, key);
    }
    return this.#pool(key, fetch, Math.max(rows, Math.floor(this.#batch / perRow)));
  }

  matrixTriple(m: number, k: number, n: number): Promise<Triple> {
    return this.#inner.matrixTriple(m, k, n);
  }

  fixedMask(id: string, k: number, n: number): Promise<SecretTensor> {
    this.#static.add(id);
    return this.#inner.fixedMask(id, k, n);
  }

  fixedMaskRows(id: string, start: number, rows: number, n: number): Promise<SecretTensor> {
    if (start === 0) this.#static.add(id);
    return this.#inner.fixedMaskRows(id, start, rows, n);
  }

  fixedAppend(id: string, rows: number, n: number): Promise<SecretTensor> {
    // A growing operand (KV cache): its triples are dealt on demand. (Triples pooled before an
    // append would hold A·B of the old rows; operands stop being pooled at their first append.)
    if (this.#static.delete(id)) for (const key of [...this.#pools.keys()]) if (key.startsWith(`fixed:${id}:`)) this.#pools.delete(key);
    return this.#inner.fixedAppend(id, rows, n);
  }

  async fixedTriple(id: string, m: number, transposed = false): Promise<FixedTriple> {
    if (this.#fixedUses === 0 || m > POOLED_FIXED_ROWS || !this.#static.has(id)) return this.#inner.fixedTriple(id, m, transposed);
    // Rows of A are independent: a batch of m·uses rows serves `uses` products of m rows.
    const pool = this.#pool(
      `fixed:${id}:${m}:${transposed ? 'T' : 'N'}`,
      async (rows) => {
        const t = await this.#inner.fixedTriple(id, rows, transposed);
        return { size: rows, tensors: [t.a, t.c], byRow: true };
      },
      m * this.#fixedUses,
    );
    const { parts, source } = await pool.takeFrom(m);
    const [a, c] = parts as SecretTensor[];
    return { a, c, batch: source && { a: source.batch.tensors[0] as SecretTensor, row: source.offset } };
  }

  inputMask(owner: number, size: number): Promise<InputMask> {
    return this.#inner.inputMask(owner, size);
  }
}
