/**
 * Local (communication-free) linear operations on secret-shared tensors. Cost: 0 rounds,
 * 0 bytes. MACs follow linearly: for a public constant c, party i adds α_i·c to its MAC share
 * and only party 0 adds c to its value share.
 */
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import type { SecretTensor, ShareHolder } from './secret-tensor.ts';

function make(shape: readonly number[], share: RingTensor, mac: RingTensor | undefined): SecretTensor {
  return { shape, share, mac };
}

export function addSS(x: SecretTensor, y: SecretTensor): SecretTensor {
  return make(x.shape, T.add(x.share, y.share), x.mac && y.mac ? T.add(x.mac, y.mac) : undefined);
}

export function subSS(x: SecretTensor, y: SecretTensor): SecretTensor {
  return make(x.shape, T.sub(x.share, y.share), x.mac && y.mac ? T.sub(x.mac, y.mac) : undefined);
}

export function negS(x: SecretTensor): SecretTensor {
  return make(x.shape, T.neg(x.share), x.mac && T.neg(x.mac));
}

/** x + p for a public tensor p (same shape and ring). */
export function addSP(me: ShareHolder, x: SecretTensor, p: RingTensor): SecretTensor {
  const share = me.id === 0 ? T.add(x.share, p) : x.share;
  const mac = x.mac && (me.macKeyShare === undefined ? x.mac : T.add(x.mac, T.mulScalar(p, me.macKeyShare)));
  return make(x.shape, share, mac);
}

/** x + c for a public scalar c. */
export function addScalarS(me: ShareHolder, x: SecretTensor, c: bigint): SecretTensor {
  const share = me.id === 0 ? T.addScalar(x.share, c) : x.share;
  const mac = x.mac && (me.macKeyShare === undefined ? x.mac : T.addScalar(x.mac, c * me.macKeyShare));
  return make(x.shape, share, mac);
}

/** p − x for a public tensor p. */
export function subPS(me: ShareHolder, p: RingTensor, x: SecretTensor): SecretTensor {
  return addSP(me, negS(x), p);
}

/** c·x for a public scalar c. */
export function mulScalarS(x: SecretTensor, c: bigint): SecretTensor {
  return make(x.shape, T.mulScalar(x.share, c), x.mac && T.mulScalar(x.mac, c));
}

/** Elementwise p ⊙ x for a public tensor p. */
export function mulSP(x: SecretTensor, p: RingTensor): SecretTensor {
  return make(x.shape, T.mul(x.share, p), x.mac && T.mul(x.mac, p));
}

/** x·W for secret x [.., k] and public W [k, n]. */
export function matmulSP(x: SecretTensor, w: RingTensor): SecretTensor {
  const share = T.matmul(x.share, w);
  return make(share.shape, share, x.mac && T.matmul(x.mac, w));
}

/** P·y for public P [m, k] and secret y [k, n]. */
export function matmulPS(p: RingTensor, y: SecretTensor): SecretTensor {
  const share = T.matmul(p, y.share);
  return make(share.shape, share, y.mac && T.matmul(p, y.mac));
}

/** A public value as a (trivial) sharing: party 0 holds it, MAC shares are α_i·p. */
export function publicAsShared(me: ShareHolder, p: RingTensor): SecretTensor {
  const zero = T.zeros(p.ring, p.shape);
  return addSP(me, make(p.shape, zero, me.macKeyShare === undefined ? undefined : zero), p);
}

export function reshapeS(x: SecretTensor, shape: readonly number[]): SecretTensor {
  return make(shape, T.reshape(x.share, shape), x.mac && T.reshape(x.mac, shape));
}

/** x·pᵀ for x [.., m, n] and a public p [k, n] (T.matmulNT). */
export function matmulSPT(x: SecretTensor, p: RingTensor): SecretTensor {
  const share = T.matmulNT(x.share, p);
  return make(share.shape, share, x.mac && T.matmulNT(x.mac, p));
}

/** p·yᵀ for a public p [.., m, n] and y [k, n] (T.matmulNT). */
export function matmulPST(p: RingTensor, y: SecretTensor): SecretTensor {
  const share = T.matmulNT(p, y.share);
  return make(share.shape, share, y.mac && T.matmulNT(p, y.mac));
}

export function transposeS(x: SecretTensor): SecretTensor {
  const share = T.transpose(x.share);
  return make(share.shape, share, x.mac && T.transpose(x.mac));
}

/** Flattens several secret tensors into one 1-D tensor (for batched protocols). */
export function concatS(parts: readonly SecretTensor[]): SecretTensor {
  const ring = parts[0].share.ring;
  const share = T.concatFlat(
    ring,
    parts.map((p) => p.share),
  );
  const mac = parts[0].mac
    ? T.concatFlat(
        ring,
        parts.map((p) => p.mac as RingTensor),
      )
    : undefined;
  return make(share.shape, share, mac);
}

/** Inverse of {@link concatS}. */
export function splitS(x: SecretTensor, shapes: readonly (readonly number[])[]): SecretTensor[] {
  const shares = T.splitFlat(x.share, shapes);
  const macs = x.mac ? T.splitFlat(x.mac, shapes) : undefined;
  return shares.map((s, i) => make(shapes[i], s, macs?.[i]));
}

/** Elements [start, end) of the flattened tensor. */
export function sliceS(x: SecretTensor, start: number, end: number): SecretTensor {
  const share = T.sliceFlat(x.share, start, end);
  return make(share.shape, share, x.mac && T.sliceFlat(x.mac, start, end));
}

/** out[i] = x[index[i]] over the flattened tensor (a public re-arrangement), with shape `shape`. */
export function gatherS(x: SecretTensor, index: ArrayLike<number>, shape: readonly number[]): SecretTensor {
  return make(shape, T.gather(x.share, index, shape), x.mac && T.gather(x.mac, index, shape));
}
