/**
 * Batched MAC check for SPDZ2k (Cramer, Damgård, Escudero, Scholl, Xing, CRYPTO 2018,
 * eprint 2018/482, Π_MACCheck) plus the deferred zero checks of triple sacrifice.
 *
 * For the opened values o_1..o_N (full Z_2^128 values, all masked by uniform randomness) with
 * MAC shares m_{i,j} (Σ_i m_{i,j} = α·o_j if nobody cheated):
 *   0. (if sacrifice residues are pending) open them in one round; they become opened values
 *      whose true value must be 0.
 *   1. joint coin → public χ_1..χ_N uniform in [0, 2^64)          2 rounds
 *   2. y = Σ χ_j·o_j,  z_i = Σ χ_j·m_{i,j} − α_i·y   (mod 2^128)    local
 *   3. commit to z_i and exchange (with a digest of the transcript of all opened and broadcast
 *      values, which must agree: no inconsistent broadcasts); open, exchange; verify  2 rounds
 *   4. Σ z_i ≠ 0 → MacCheckError. Then a non-zero residue → SacrificeError.
 * A party that adds e ≠ 0 (mod 2^64) to a share passes only if it guesses α·χ·e, probability
 * ≈ 2^−64 (SPDZ2k Thm. 1: 2^(−s+log s) with s = 64). Errors ≥ 2^64 do not change the low 64 bits
 * and are harmless by design.
 * Reveals: z_i (uniform given α), the residues (0 when honest). Cost: 4 rounds (5 with
 * residues); bytes in {@link macCheckBytes}. Runs before every output (reveal.ts) and whenever
 * 2^20 elements have been opened since the last check ({@link MAC_CHECK_BATCH_ELEMENTS}).
 */
import { timingSafeEqual } from 'node:crypto';
import { MacCheckError, SacrificeError } from '../base/errors.ts';
import { commit, openCommitment } from '../crypto/commitment.ts';
import { Prg } from '../crypto/prg.ts';
import { kernels } from '../kernels/kernels.ts';
import { concatFlat, sizeOf } from '../ring/tensor.ts';
import type { PartyContext } from './context.ts';
import { COIN_ROUNDS, coinBytes, jointCoin } from './coin.ts';
import { open } from './open.ts';

const M128 = (1n << 128n) - 1n;

export function macCheckRounds(pendingZeros: boolean): number {
  return (pendingZeros ? 1 : 0) + COIN_ROUNDS + 2;
}
export function macCheckBytes(ctx: Pick<PartyContext, 'n'>, zeroElements: number): number {
  return (ctx.n - 1) * (zeroElements * 16 + 64 + 32 + 16) + coinBytes(ctx.n);
}

/**
 * Opened elements after which {@link open} runs the check by itself (every party at the same
 * point: the count is public), so the log of opened values, MAC shares and residues stays near
 * 2^20 elements (≈ 64 MiB in Z_2^128) instead of growing with a whole prefill. A check costs
 * {@link macCheckRounds} rounds; checking earlier than required is always sound.
 */
export const MAC_CHECK_BATCH_ELEMENTS = 1 << 20;

/** Runs the batched check over everything opened since the last check; clears the log. */
export async function macCheck(ctx: PartyContext): Promise<void> {
  if (ctx.mode !== 'malicious' || ctx.checks.checking) return;
  ctx.checks.checking = true;
  try {
    await runMacCheck(ctx);
  } finally {
    ctx.checks.checking = false;
  }
}

async function runMacCheck(ctx: PartyContext): Promise<void> {
  const zeros = ctx.checks.zeros.splice(0);
  let residuesOk = true;
  if (zeros.length > 0) {
    const opened = await open(ctx, zeros);
    residuesOk = opened.every((t) => t.data.every((w) => w === 0n));
  }
  const entries = ctx.checks.opened.splice(0);
  ctx.checks.pendingElements = 0;
  if (entries.length === 0) {
    if (!residuesOk) throw new SacrificeError('triple sacrifice failed: the preprocessing material is incorrect; session aborted');
    return;
  }
  const values = concatFlat(
    ctx.ring,
    entries.map((e) => e.values),
  );
  const macs = concatFlat(
    ctx.ring,
    entries.map((e) => e.macs),
  );
  const count = sizeOf(values.shape);

  const chi = new Prg(await jointCoin(ctx)).words(count);
  const chi128 = new BigUint64Array(2 * count);
  for (let j = 0; j < count; j++) chi128[2 * j] = chi[j];
  // Σ χ_j·v_j as a [1,N]·[N,1] product in Z_2^128.
  const y = dot128(chi128, values.data, count);
  const m = dot128(chi128, macs.data, count);
  const z = (m - (ctx.macKeyShare as bigint) * y) & M128;

  // Round 1 also carries the transcript digest: every party must have seen the same openings.
  const mine = commit(u128Bytes(z));
  const transcript = new Uint8Array(ctx.checks.transcript.copy().digest());
  const first = new Uint8Array(64);
  first.set(mine.digest, 0);
  first.set(transcript, 32);
  const digests = await ctx.channel.exchange(first);
  for (let j = 0; j < ctx.n; j++) {
    if (digests[j].length !== 64 || !timingSafeEqual(digests[j].subarray(32), transcript)) {
      throw new MacCheckError(`MAC check: party ${j} saw different opened or broadcast values (inconsistent broadcast)`);
    }
  }
  const openings = await ctx.channel.exchange(mine.opening);
  let sum = 0n;
  for (let j = 0; j < ctx.n; j++) {
    const zj = openCommitment(digests[j].subarray(0, 32), openings[j]);
    if (!zj || zj.length !== 16) throw new MacCheckError(`MAC check: party ${j}'s opening does not match its commitment`);
    sum += bytesU128(zj);
  }
  if ((sum & M128) !== 0n) throw new MacCheckError('MAC check failed: an opened value was tampered with; session aborted');
  if (!residuesOk) throw new SacrificeError('triple sacrifice failed: the preprocessing material is incorrect; session aborted');
}

function dot128(a: BigUint64Array, b: BigUint64Array, count: number): bigint {
  const r = kernels.matmul(2, a, b, 1, count, 1);
  return r[0] | (r[1] << 64n);
}

function u128Bytes(v: bigint): Uint8Array {
  const w = new BigUint64Array([v & 0xffffffffffffffffn, v >> 64n]);
  return new Uint8Array(w.buffer);
}

function bytesU128(b: Uint8Array): bigint {
  const w = new BigUint64Array(b.slice().buffer);
  return w[0] | (w[1] << 64n);
}
