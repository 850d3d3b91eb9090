/**
 * PRG-seed compression of dealt shares (as in SPU's TTP and SPDZ-style dealers): for a batch of
 * plaintext tensors x_1..x_t, parties 0..n−2 each receive one 16-byte seed and expand their
 * shares (and MAC shares) from AES-CTR(seed); party n−1 receives the corrections
 * x_j − Σ_{i<n−1} share_{i,j} (and α·x_j − Σ mac_{i,j}). Communication: 16 bytes for n−1
 * parties, |x| (·2 with MACs) for the last one, instead of n·|x|.
 *
 * Expansion order inside one message: for each tensor in order, its value share, then (malicious
 * mode) its MAC share.
 */
import { Prg, randomSeed, SEED_BYTES } from '../crypto/prg.ts';
import type { Ring } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { concatFlat, mulScalar, sizeOf, sub, tensor } from '../ring/tensor.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

export type PartyMessage =
  { readonly kind: 'seed'; readonly seed: Uint8Array } | { readonly kind: 'explicit'; readonly words: BigUint64Array };

export function messageBytes(m: PartyMessage): number {
  return m.kind === 'seed' ? SEED_BYTES : m.words.byteLength;
}

/** Shares `plain` among n parties; `alpha` set = malicious mode (MAC shares included). */
export function dealShares(plain: readonly RingTensor[], n: number, alpha: bigint | undefined): PartyMessage[] {
  const seeds = Array.from({ length: n - 1 }, () => randomSeed());
  const prgs = seeds.map((s) => new Prg(s));
  // Corrections written straight into the last party's message (no per-tensor copies to join).
  const words = new BigUint64Array(plain.reduce((acc, x) => acc + x.data.length, 0) * (alpha === undefined ? 1 : 2));
  let off = 0;
  for (const x of plain) {
    const values = alpha === undefined ? [x] : [x, mulScalar(x, alpha)];
    for (const v of values) {
      let rest = v;
      prgs.forEach((prg, i) => {
        const into = i === prgs.length - 1 ? words.subarray(off, off + v.data.length) : undefined;
        rest = sub(rest, prg.ringTensor(v.ring, v.shape), into);
      });
      off += v.data.length;
    }
  }
  return messages(seeds, words);
}

/** Seeds for parties 0..n−2, the concatenated corrections for party n−1. */
function messages(seeds: readonly Uint8Array[], words: BigUint64Array): PartyMessage[] {
  return [...seeds.map((seed) => ({ kind: 'seed' as const, seed })), { kind: 'explicit' as const, words }];
}

/**
 * XOR sharing with the same seed compression (for packed bit material, Z_2^64 words, no MACs):
 * parties 0..n−2 expand a seed; party n−1 gets x ⊕ (⊕ of their expansions). Expansion on the
 * party side is {@link expandMessage} unchanged (it only reads words).
 */
export function dealXorShares(plain: readonly RingTensor[], n: number): PartyMessage[] {
  return dealMixedShares(
    plain,
    plain.map(() => true),
    n,
  );
}

/**
 * Semi-honest mix of {@link dealShares} and {@link dealXorShares} in one message: tensor j is
 * additively shared, or XOR-shared where `xor[j]`; parties 0..n−2 expand one seed (tensor after
 * tensor, as {@link expandMessage} does), party n−1 gets the corrections. No MACs.
 */
export function dealMixedShares(plain: readonly RingTensor[], xor: readonly boolean[], n: number): PartyMessage[] {
  const seeds = Array.from({ length: n - 1 }, () => randomSeed());
  const prgs = seeds.map((s) => new Prg(s));
  const corrections = plain.map((x, j) => {
    if (!xor[j]) {
      let rest = x;
      for (const prg of prgs) rest = sub(rest, prg.ringTensor(x.ring, x.shape));
      return rest;
    }
    const words = x.data.slice();
    const u32 = new Uint32Array(words.buffer);
    for (const prg of prgs) {
      const r = prg.ringTensor(x.ring, x.shape).data;
      const r32 = new Uint32Array(r.buffer, r.byteOffset, r.length * 2);
      for (let i = 0; i < u32.length; i++) u32[i] ^= r32[i];
    }
    return { ...x, data: words };
  });
  return messages(seeds, corrections.length === 0 ? new BigUint64Array(0) : concatFlat(corrections[0].ring, corrections).data);
}

/** A party's side of {@link dealShares}: its SecretTensors for the given shapes. */
export function expandMessage(msg: PartyMessage, ring: Ring, shapes: readonly (readonly number[])[], malicious: boolean): SecretTensor[] {
  const prg = msg.kind === 'seed' ? new Prg(msg.seed) : undefined;
  let off = 0;
  const next = (shape: readonly number[]): RingTensor => {
    const len = sizeOf(shape) * ring.limbs;
    if (prg) return prg.ringTensor(ring, shape);
    const words = (msg as { words: BigUint64Array }).words;
    if (off + len > words.length) throw new RangeError(`expandMessage: message has ${words.length} words, need more than ${off + len}`);
    // A view, not a copy: material is never written in place, and each message is one request's.
    const t = tensor(ring, shape, words.subarray(off, off + len));
    off += len;
    return t;
  };
  const out = shapes.map((shape) => {
    const share = next(shape);
    const mac = malicious ? next(shape) : undefined;
    return { shape: [...shape], share, mac };
  });
  if (!prg && off !== (msg as { words: BigUint64Array }).words.length) {
    throw new RangeError(`expandMessage: message has ${(msg as { words: BigUint64Array }).words.length} words, expected ${off}`);
  }
  return out;
}
