/**
 * Batched opening: every party broadcasts its shares of all given tensors in one message and
 * sums what it receives.
 *
 * Reveals: the opened values (and, in malicious mode, the full Z_2^128 values: callers only open
 * values masked by uniformly random ring elements, or use reveal.ts for outputs).
 * Malicious mode: the opened values and this party's MAC shares are appended to ctx.checks for
 * the next batched MAC check; nothing derived from them may be output before it passes. Once
 * 2^20 elements are pending, the opening runs that check itself (mac-check.ts), so the log stays
 * bounded.
 * Cost: 1 round; (n−1)·Σ|x|·(8 or 16) bytes sent per party (plus a MAC check's rounds and bytes
 * each time 2^20 elements have been opened in malicious mode).
 */
import { ProtocolAbort } from '../base/errors.ts';
import { bytesToWords, wordsToBytes } from '../net/codec.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { concatFlat, sizeOf, splitFlat } from '../ring/tensor.ts';
import { kernels } from '../kernels/kernels.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import type { PartyContext } from './context.ts';
import { MAC_CHECK_BATCH_ELEMENTS, macCheck } from './mac-check.ts';

export const OPEN_ROUNDS = 1;
export const openBytes = (ctx: Pick<PartyContext, 'n' | 'ring'>, elements: number): number => (ctx.n - 1) * elements * ctx.ring.bytes;

export async function open(ctx: PartyContext, xs: readonly SecretTensor[]): Promise<RingTensor[]> {
  const ring = ctx.ring;
  const mine = concatFlat(
    ring,
    xs.map((x) => x.share),
  );
  const incoming = await ctx.channel.exchange(wordsToBytes(mine.data));
  const sum = mine.data.slice();
  for (let j = 0; j < ctx.n; j++) {
    if (j === ctx.id) continue;
    if (incoming[j].length !== mine.data.byteLength) {
      throw new ProtocolAbort(`open: party ${j} sent ${incoming[j].length} bytes, expected ${mine.data.byteLength}`);
    }
    kernels.add(ring.limbs, sum, bytesToWords(incoming[j]), sum);
  }
  const opened = { ring, shape: mine.shape, data: sum };
  if (ctx.mode === 'malicious') {
    ctx.checks.transcript.update(wordsToBytes(sum));
    ctx.checks.opened.push({
      values: opened,
      macs: concatFlat(
        ring,
        xs.map((x) => x.mac as RingTensor),
      ),
    });
    ctx.checks.pendingElements += sizeOf(opened.shape);
    // Bounded log: check what was opened so far (the same point at every party).
    if (ctx.checks.pendingElements >= MAC_CHECK_BATCH_ELEMENTS) await macCheck(ctx);
  }
  return splitFlat(
    opened,
    xs.map((x) => x.shape),
  );
}
