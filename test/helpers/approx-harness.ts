/**
 * Harness for the approximation tests (src/approx): shares plaintext reals, runs a secure
 * function in n in-process parties, reveals and decodes the result, and measures the cost of the
 * function alone (party 0's channel; all parties run in lock-step).
 */
import type { ChannelStats } from '../../src/net/channel.ts';
import type { SecurityMode } from '../../src/preprocessing/insecure-local-dealer.ts';
import type { PartyContext, TruncationMethod } from '../../src/protocols/context.ts';
import { reveal } from '../../src/protocols/reveal.ts';
import { decode, encode } from '../../src/ring/fixed-point.ts';
import type { SecretTensor } from '../../src/sharing/secret-tensor.ts';
import { makeDealer, measure, runParties } from './parties.ts';

export interface ApproxSetup {
  readonly n?: number;
  readonly mode?: SecurityMode;
  readonly scaleBits?: number;
  readonly truncation?: TruncationMethod;
  readonly compareBits?: number;
}

export interface ApproxInput {
  readonly shape: readonly number[];
  readonly values: ArrayLike<number>;
}

export interface ApproxRun {
  /** The inputs as actually encoded (rounded to the fixed-point grid). */
  readonly inputs: Float64Array[];
  /** Decoded outputs. */
  readonly outputs: Float64Array[];
  /** Cost of `body` on every party. */
  readonly costs: ChannelStats[];
  /** The truncation method the parties used. */
  readonly truncation: TruncationMethod;
  /** The security mode of the run. */
  readonly mode: SecurityMode;
}

export async function runApprox(
  setup: ApproxSetup,
  inputs: readonly ApproxInput[],
  body: (ctx: PartyContext, xs: SecretTensor[]) => Promise<SecretTensor | SecretTensor[]>,
): Promise<ApproxRun> {
  const n = setup.n ?? 2;
  const mode = setup.mode ?? 'semi-honest';
  const f = setup.scaleBits ?? 16;
  const dealer = makeDealer(n, mode);
  const encoded = inputs.map((x) => encode(dealer.ring, x.shape, x.values, f));
  const shared = encoded.map((e) => dealer.shareForTest(e));
  const { results, contexts } = await runParties(
    dealer,
    async (ctx) => {
      const m = await measure(ctx, () =>
        body(
          ctx,
          shared.map((s) => s[ctx.id]),
        ),
      );
      const outs = Array.isArray(m.value) ? m.value : [m.value];
      return { opened: await reveal(ctx, outs), cost: m.cost };
    },
    { scaleBits: f, truncation: setup.truncation, compareBits: setup.compareBits },
  );
  return {
    inputs: encoded.map((e) => decode(e, f)),
    outputs: results[0].opened.map((t) => decode(t, f)),
    costs: results.map((r) => r.cost),
    truncation: contexts[0].truncation,
    mode: contexts[0].mode,
  };
}

/** Max |got − want| and where it occurs. */
export function maxAbsError(got: ArrayLike<number>, want: ArrayLike<number>): { max: number; at: number } {
  let max = -1;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= max)) {
      max = e;
      at = i;
    }
  }
  return { max, at };
}

/** Dense grid on [a, b] (both ends included) plus `extra` points. */
export function grid(a: number, b: number, points: number, extra: readonly number[] = []): number[] {
  const out = Array.from({ length: points }, (_, i) => a + ((b - a) * i) / (points - 1));
  return [...out, ...extra];
}

/** Deterministic uniform reals in [a, b) (mulberry32; test data only). */
export function seededUniform(seed: number, count: number, a: number, b: number): number[] {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => a + (b - a) * next());
}
