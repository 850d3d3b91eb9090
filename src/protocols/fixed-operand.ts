/**
 * Fixed-operand matrix multiplication: a secret matrix W used in many products (a weight matrix
 * every decode step, a KV-cache matrix every later token) is masked once with a dealer mask B
 * and opened once as D = W − B; each product then opens only E = X − A:
 *
 *   setup (once per W, or once per appended block of rows): open D = W − B
 *   product X·W, triple (A, C = A·B):   open E = X − A;  X·W = E·D + E·[B] + [A]·D + [C]
 *   product X·Wᵀ, triple (A, C = A·Bᵀ): open E = X − A;  X·Wᵀ = E·Dᵀ + E·[B]ᵀ + [A]·Dᵀ + [C]
 *
 * Reusing B is safe: D is opened once, B is uniform and masks nothing else, and every product
 * uses a fresh A (the fixed-mask argument of Mohassel & Zhang, SecureML, S&P 2017, §4.1).
 * Growing operands (KV cache): `appendFixed` masks and opens only the new rows; the dealer
 * extends B by fresh rows, so old rows' openings stay as they were.
 * Malicious mode: a second triple (F, H = F·B) with the same B is sacrificed (shared-B variant):
 * open ρ = t·A − F with E; the residue t·C − H − ρ·B (ρ·Bᵀ) must be 0 (queued for the MAC check).
 *
 * Unpinned products (semi-honest party 0): A_0 and E are stacked for one pass over D.
 * Reveals: D and E, uniform. Cost: setup 1 round, (n−1)·k·n·B_r bytes; a batch of products
 * 1 round, (n−1)·Σ m·k·B_r bytes, doubled in malicious mode (B_r = 8 or 16).
 */
import type { FixedTriple } from '../preprocessing/material.ts';
import { matmulPinnedTensor, pin, pinnedValue, release, reserveResident, writeRows, type PinnedTensor } from '../ring/pinned.ts';
import { appendRows, type RowBuffer } from '../ring/row-buffer.ts';
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { nextChallenge, type PartyContext } from './context.ts';
import { FixedMaskRows } from './fixed-mask-rows.ts';
import { open } from './open.ts';

export interface FixedOperand {
  readonly id: string;
  /** [k, n] */
  readonly shape: readonly [number, number];
  /** Public D = W − B. */
  readonly opened: RingTensor;
  /** This party's share of the mask B. */
  readonly mask: SecretTensor;
  /** D and this party's B resident in the kernels' memory ({@link pinFixed}); used by untransposed products. */
  readonly pins?: FixedPins;
  /** Growing operands ({@link appendFixed}): the buffers with spare rows behind `opened` and `mask`. */
  readonly growth?: { readonly opened: RowBuffer; readonly share: RowBuffer; readonly mac?: RowBuffer };
}

/**
 * D and this party's share of W resident in the kernels' memory (semi-honest mode), so a product
 * X·W needs one pass over each: [X·W]_i = E·W_i + A_i·D + C_i, where W_0 = D + B_0 and
 * W_i = B_i for i > 0 (the public E·D is folded into party 0's term).
 */
export interface FixedPins {
  readonly d: PinnedTensor;
  readonly w: PinnedTensor;
  /** A·D of pooled triple batches (see FixedTriple.batch), computed once per batch in one pass over D. */
  readonly batchAD: WeakMap<SecretTensor, RingTensor>;
}

/**
 * The operand with D and this party's share of W pinned in the kernels' memory (semi-honest
 * mode: MAC shares are not pinned), for operands used in many untransposed products such as
 * weight matrices. With `resident`, the plain copies are dropped once pinned (the operand's
 * `opened` and `mask` are then read back from the kernels' memory on access, which products
 * with the pins never do). Release with {@link releaseFixed}.
 */
export function pinFixed(ctx: PartyContext, w: FixedOperand, o: { resident?: boolean } = {}): FixedOperand {
  if (ctx.macKeyShare !== undefined || w.pins) return w;
  const d = pin(w.opened, o);
  const mine = pin(ctx.id === 0 ? T.add(w.opened, w.mask.share) : w.mask.share, o);
  if (d.tensor && mine.tensor) return { ...w, pins: { d, w: mine, batchAD: new WeakMap() } };
  return pinnedOperand(ctx, w.id, w.shape, d, mine);
}

/** An operand whose D and W_i live in pins (resident-only ones are read back on access). */
function pinnedOperand(ctx: PartyContext, id: string, shape: readonly [number, number], d: PinnedTensor, mine: PinnedTensor): FixedOperand {
  const ring = ctx.ring;
  const first = ctx.id === 0;
  return {
    id,
    shape,
    pins: { d, w: mine, batchAD: new WeakMap() },
    get opened(): RingTensor {
      return pinnedValue(d, ring);
    },
    get mask(): SecretTensor {
      const share = pinnedValue(mine, ring);
      return { shape: [...shape], share: first ? T.sub(share, pinnedValue(d, ring)) : share, mac: undefined };
    },
  };
}

/** Frees the kernel memory held by {@link pinFixed} (the operand stays usable). */
export function releaseFixed(w: FixedOperand): void {
  releasePins(w.pins);
}

function releasePins(pins: { readonly d: PinnedTensor; readonly w: PinnedTensor } | undefined): void {
  if (!pins) return;
  release(pins.d);
  release(pins.w);
}

export const fixedSetupBytes = (ctx: Pick<PartyContext, 'n' | 'ring'>, k: number, n: number): number =>
  (ctx.n - 1) * k * n * ctx.ring.bytes;
/** Bytes of one product with an operand of inner dimension k (k = n of W when transposed). */
export const fixedMatmulBytes = (ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>, m: number, k: number): number =>
  (ctx.n - 1) * m * k * ctx.ring.bytes * (ctx.mode === 'malicious' ? 2 : 1);

/** Prepares several fixed operands in one round. `ids` must be unique within the session. */
export async function prepareFixed(ctx: PartyContext, items: readonly { id: string; w: SecretTensor }[]): Promise<FixedOperand[]> {
  const started = items.map(({ id, w }) => beginFixed(ctx, id, w.shape[0], w.shape[1]));
  await openFixedRows(
    ctx,
    items.map(({ w }, i) => ({ operand: started[i], start: 0, w })),
  );
  return started.map((p) => finishFixed(ctx, p));
}

/**
 * A fixed operand prepared a block of rows at a time ({@link beginFixed}, then
 * {@link openFixedRows} until every row is open, then {@link finishFixed}), so a large W never
 * has to exist as whole secret shares next to D, and its mask B arrives from the dealer in
 * pieces of rows as they are needed (fixed-mask-rows.ts): the transient memory is a block or
 * two. Same openings, bytes and security as {@link prepareFixed}; one round per openFixedRows
 * call. With `resident` (semi-honest), D and W_i go straight into resident-only pins row block
 * by row block, so not even D or B_i is held whole outside the kernels' memory.
 */
export interface FixedInProgress {
  readonly id: string;
  readonly shape: readonly [number, number];
  /** B_i, requested and let go a piece of rows at a time. */
  readonly maskRows: FixedMaskRows;
  /** D and B_i, filled in row order (unless pinned). */
  readonly opened: RingTensor | undefined;
  readonly mask: SecretTensor | undefined;
  /** Resident-only pins of D and W_i ({@link FixedPins}), filled in row order. */
  readonly pins: { readonly d: PinnedTensor; readonly w: PinnedTensor } | undefined;
  /** Rows of D opened so far. */
  rows: number;
}

export interface BeginFixedOptions {
  /** Pin D and W_i resident-only as rows are opened (semi-honest; plain if the kernels' memory is short). */
  readonly resident?: boolean;
  /**
   * Rows per mask request (default: all k at once, requested now). Smaller pieces are requested
   * as {@link openFixedRows} reaches them, or earlier with {@link requestFixedRows}.
   */
  readonly pieceRows?: number;
}

/**
 * Starts a [k, n] operand. Without `pieceRows`, its whole mask B is requested now (synchronously,
 * so requests keep the caller's order).
 */
export function beginFixed(ctx: PartyContext, id: string, k: number, n: number, o: BeginFixedOptions = {}): FixedInProgress {
  const maskRows = new FixedMaskRows(ctx, id, k, n, o.pieceRows ?? k);
  if (o.pieceRows === undefined) maskRows.request(k);
  let pins: FixedInProgress['pins'];
  if (o.resident && ctx.macKeyShare === undefined) {
    const d = reserveResident(ctx.ring, [k, n]);
    const w = d && reserveResident(ctx.ring, [k, n]);
    if (d && w) pins = { d, w };
    else if (d) release(d);
  }
  const plain = (): SecretTensor => ({
    shape: [k, n],
    share: T.zeros(ctx.ring, [k, n]),
    mac: ctx.macKeyShare === undefined ? undefined : T.zeros(ctx.ring, [k, n]),
  });
  return {
    id,
    shape: [k, n],
    maskRows,
    opened: pins ? undefined : T.zeros(ctx.ring, [k, n]),
    mask: pins ? undefined : plain(),
    pins,
    rows: 0,
  };
}

/** Requests now (in order) the mask rows of an operand in progress up to row `end`, so the dealer's round trip overlaps other work. */
export function requestFixedRows(p: FixedInProgress, end: number): void {
  p.maskRows.request(end);
}

/** Opens D for blocks of rows of operands in progress, in one round; each block must continue its operand's rows. */
export async function openFixedRows(
  ctx: PartyContext,
  blocks: readonly { operand: FixedInProgress; start: number; w: SecretTensor }[],
): Promise<void> {
  const next = new Map<FixedInProgress, number>();
  blocks.forEach(({ operand: p, start, w }) => {
    const [k, n] = p.shape;
    const rows = w.shape[0];
    const at = next.get(p) ?? p.rows;
    if (start !== at || w.shape.length !== 2 || w.shape[1] !== n || start + rows > k)
      throw new RangeError(
        `fixed operand ${p.id} [${k},${n}]: block of shape [${w.shape}] at row ${start}, expected rows from ${at} of width ${n}`,
      );
    next.set(p, start + rows);
  });
  const masks = await Promise.all(blocks.map(({ operand: p, start, w }) => p.maskRows.take(start, start + w.shape[0])));
  const opened = await open(
    ctx,
    blocks.map(({ w }, i) => L.subSS(w, masks[i])),
  );
  blocks.forEach(({ operand: p, start }, i) => {
    const at = start * p.shape[1] * ctx.ring.limbs;
    if (p.pins) {
      writeRows(p.pins.d, start, opened[i]);
      writeRows(p.pins.w, start, ctx.id === 0 ? T.add(opened[i], masks[i].share) : masks[i].share);
    } else {
      p.opened?.data.set(opened[i].data, at);
      p.mask?.share.data.set(masks[i].share.data, at);
      if (masks[i].mac) p.mask?.mac?.data.set((masks[i].mac as RingTensor).data, at);
    }
    p.rows = start + blocks[i].w.shape[0];
  });
}

/** The prepared operand, once all its rows are open. */
export function finishFixed(ctx: PartyContext, p: FixedInProgress): FixedOperand {
  if (p.rows !== p.shape[0]) throw new RangeError(`fixed operand ${p.id}: ${p.rows} of ${p.shape[0]} rows opened`);
  if (p.pins) return pinnedOperand(ctx, p.id, p.shape, p.pins.d, p.pins.w);
  return { id: p.id, shape: p.shape, opened: p.opened as RingTensor, mask: p.mask as SecretTensor };
}

/** Frees what {@link beginFixed} pinned for an operand that will not be finished (e.g. after a failure). */
export function abandonFixed(p: FixedInProgress): void {
  releasePins(p.pins);
}

/**
 * Requests the mask rows of a later {@link appendFixed} now ([rows, n] for each operand id, in
 * order), so the dealer's round trip overlaps the work in between. Requests are issued
 * synchronously.
 */
export function requestAppendMasks(ctx: PartyContext, items: readonly { id: string; rows: number; n: number }[]): Promise<SecretTensor[]> {
  const masks = Promise.all(items.map(({ id, rows, n }) => ctx.material.fixedAppend(id, rows, n)));
  // The caller may fail before awaiting it (the session then aborts): mark it handled here too.
  masks.catch(() => undefined);
  return masks;
}

/**
 * Appends rows [r, n] to growing fixed operands (creating those given as `undefined`), all in one
 * round. Returns the extended operands. Its material requests are issued synchronously (before
 * the returned promise first waits), so requests made right after the call come after them;
 * `requested` are masks requested earlier with {@link requestAppendMasks} for these items.
 */
export async function appendFixed(
  ctx: PartyContext,
  items: readonly { id: string; operand: FixedOperand | undefined; rows: SecretTensor }[],
  requested?: Promise<SecretTensor[]>,
): Promise<FixedOperand[]> {
  const masks = await (requested ??
    requestAppendMasks(
      ctx,
      items.map(({ id, rows }) => ({ id, rows: rows.shape[0], n: rows.shape[1] })),
    ));
  items.forEach(({ id, rows }, i) => {
    if (masks[i].shape[0] !== rows.shape[0] || masks[i].shape[1] !== rows.shape[1])
      throw new Error(`appendFixed: the masks requested ahead for ${id} are [${masks[i].shape}], the rows [${rows.shape}]`);
  });
  const opened = await open(
    ctx,
    items.map(({ rows }, i) => L.subSS(rows, masks[i])),
  );
  // The new rows are written behind the old ones in buffers with spare capacity (ring/row-buffer.ts).
  return items.map(({ id, operand, rows }, i): FixedOperand => {
    const shape = [rows.shape[0], rows.shape[1]];
    const grown = (prev: RingTensor | undefined, buffer: RowBuffer | undefined, add: RingTensor) =>
      appendRows(prev, buffer, T.reshape(add, shape));
    const d = grown(operand?.opened, operand?.growth?.opened, opened[i]);
    const b = grown(operand?.mask.share, operand?.growth?.share, masks[i].share);
    const mac = masks[i].mac && grown(operand?.mask.mac, operand?.growth?.mac, masks[i].mac as RingTensor);
    const [k, n] = d.tensor.shape;
    return {
      id,
      shape: [k, n],
      opened: d.tensor,
      mask: { shape: [k, n], share: b.tensor, mac: mac?.tensor },
      growth: { opened: d.buffer, share: b.buffer, mac: mac?.buffer },
    };
  });
}

export interface FixedProduct {
  /** [.., m, k] (or [.., m, n] when transposed). */
  readonly x: SecretTensor;
  readonly w: FixedOperand;
  /** Multiply by Wᵀ instead of W. */
  readonly transposed?: boolean;
}

/** The dealer material of a later {@link fixedMatmulBatch}, requested ahead ({@link requestFixedMaterial}). */
export interface FixedMaterial {
  readonly items: readonly { readonly id: string; readonly m: number; readonly transposed: boolean }[];
  /** Per item its triple, then (malicious mode) its check triple. */
  readonly fetched: Promise<FixedTriple[]>;
  /** Sacrifice challenges (malicious mode). */
  readonly challenges: readonly bigint[];
}

/**
 * Requests the triples of a later {@link fixedMatmulBatch} now, so the dealer's round trip
 * overlaps the work in between (e.g. right after the KV-cache append whose rows the triples
 * must include: the dealer serves requests in order). Requests are issued synchronously.
 */
export function requestFixedMaterial(ctx: PartyContext, items: readonly { id: string; m: number; transposed?: boolean }[]): FixedMaterial {
  const malicious = ctx.mode === 'malicious';
  const normalized = items.map(({ id, m, transposed = false }) => ({ id, m, transposed }));
  const pending: Promise<FixedTriple>[] = [];
  const challenges: bigint[] = [];
  for (const { id, m, transposed } of normalized) {
    pending.push(ctx.material.fixedTriple(id, m, transposed));
    if (malicious) pending.push(ctx.material.fixedTriple(id, m, transposed));
    challenges.push(malicious ? nextChallenge(ctx) : 0n);
  }
  // One Promise.all over every request, so a failure of one cannot leave another unhandled; the
  // caller may fail before awaiting it (the session then aborts), so mark it handled here too.
  const fetched = Promise.all(pending);
  fetched.catch(() => undefined);
  return { items: normalized, fetched, challenges };
}

/** X·W (or X·Wᵀ) for every item, with all openings in one round (material from `pre` when requested ahead). */
export async function fixedMatmulBatch(ctx: PartyContext, items: readonly FixedProduct[], pre?: FixedMaterial): Promise<SecretTensor[]> {
  const malicious = ctx.mode === 'malicious';
  const shapes = items.map(({ x, w, transposed = false }) => {
    const inner = transposed ? w.shape[1] : w.shape[0];
    return { id: w.id, m: T.sizeOf(x.shape) / inner, inner, transposed };
  });
  if (pre) {
    const same =
      pre.items.length === shapes.length &&
      pre.items.every((p, i) => p.id === shapes[i].id && p.m === shapes[i].m && p.transposed === shapes[i].transposed);
    if (!same) throw new Error('fixedMatmulBatch: the material requested ahead is for other products');
  }
  // Every request is issued before any is awaited (same order on every party), so one batch
  // waits for the dealer once, not once per item.
  const material = pre ?? requestFixedMaterial(ctx, shapes);
  const fetched = await material.fetched;
  const per = malicious ? 2 : 1;
  const prepared = shapes.map((sh, i) => ({
    ...sh,
    triple: fetched[per * i],
    check: malicious ? fetched[per * i + 1] : undefined,
    t: material.challenges[i],
  }));
  const toOpen: SecretTensor[] = [];
  items.forEach(({ x }, i) => {
    const { m, inner, triple, check, t } = prepared[i];
    toOpen.push(L.subSS(L.reshapeS(x, [m, inner]), triple.a));
    if (check) toOpen.push(L.subSS(L.mulScalarS(triple.a, t), check.a));
  });
  const opened = await open(ctx, toOpen);
  return items.map(({ x, w, transposed = false }, i) => {
    const { m, triple, check, t } = prepared[i];
    const e = opened[per * i];
    const outShape = [...x.shape.slice(0, -1), transposed ? w.shape[0] : w.shape[1]];
    const pins = transposed ? undefined : w.pins;
    if (pins) {
      // Semi-honest only (no MAC shares): E·W_i + A_i·D + C_i (party 0's W_0 includes D, so E·D too).
      const share = T.add(T.add(matmulPinnedTensor(e, pins.w), maskTimesD(pins, triple, m)), triple.c.share);
      return L.reshapeS({ shape: share.shape, share, mac: undefined }, outShape);
    }
    // X·W = E·D + E·B + A·D + C. The public term E·D enters party 0's share and (malicious mode)
    // every party's MAC share; in semi-honest mode the other parties need not compute it.
    // Transposed (X·Wᵀ): products with Dᵀ and Bᵀ without transposing D or B (T.matmulNT).
    const [d, b] = [w.opened, w.mask];
    const byB = (p: RingTensor): SecretTensor => (transposed ? L.matmulPST(p, b) : L.matmulPS(p, b));
    if (check) {
      const rho = opened[per * i + 1];
      ctx.checks.zeros.push(L.subSS(L.subSS(L.mulScalarS(triple.c, t), check.c), byB(rho)));
    }
    const byD = (p: RingTensor): RingTensor => (transposed ? T.matmulNT(p, d) : T.matmul(p, d));
    if (ctx.id === 0 && triple.a.mac === undefined) {
      // Semi-honest party 0: A_0·D and E·D in one pass over D (A_0 and E stacked), not two.
      const rows = e.shape[0];
      const both = byD(T.reshape(T.concatFlat(ctx.ring, [triple.a.share, e]), [2 * rows, e.shape[1]]));
      const [aD, eD] = T.splitFlat(both, [
        [rows, both.shape[1]],
        [rows, both.shape[1]],
      ]);
      const share = T.add(T.add(triple.c.share, byB(e).share), T.add(aD, eD));
      return L.reshapeS({ shape: share.shape, share, mac: undefined }, outShape);
    }
    const aD = transposed ? L.matmulSPT(triple.a, d) : L.matmulSP(triple.a, d);
    const z = L.addSS(triple.c, L.addSS(byB(e), aD));
    const withPublic = ctx.id === 0 || ctx.macKeyShare !== undefined ? L.addSP(ctx, z, byD(e)) : z;
    return L.reshapeS(withPublic, outShape);
  });
}

/**
 * A_i·D for a pinned operand: from the product of the whole pooled batch of A (one pass over D
 * for all its rows, computed at its first use and kept while the batch is alive), else directly.
 */
function maskTimesD(pins: FixedPins, triple: FixedTriple, m: number): RingTensor {
  const batch = triple.batch;
  if (!batch) return matmulPinnedTensor(triple.a.share, pins.d);
  let all = pins.batchAD.get(batch.a);
  if (!all) pins.batchAD.set(batch.a, (all = matmulPinnedTensor(batch.a.share, pins.d)));
  const n = pins.d.shape[1];
  return { ring: all.ring, shape: [m, n], data: all.data.subarray(batch.row * n * all.ring.limbs, (batch.row + m) * n * all.ring.limbs) };
}

/** X·W for X [.., m, k] and a prepared fixed operand W [k, n] (Wᵀ when `transposed`). */
export async function fixedMatmul(ctx: PartyContext, x: SecretTensor, w: FixedOperand, transposed = false): Promise<SecretTensor> {
  return (await fixedMatmulBatch(ctx, [{ x, w, transposed }]))[0];
}
