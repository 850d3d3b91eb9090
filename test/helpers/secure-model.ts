/**
 * Test-only: runs the secure model in-process and REVEALS the logits of every position
 * (teacher-forced on given ids) so they can be compared with the plaintext reference. A real
 * session never reveals logits.
 */
import type { LoadedModel } from '../../src/formats/model-spec.ts';
import { foldWeights } from '../../src/model/fold-weights.ts';
import { loadSecureModel } from '../../src/model/secure-weights.ts';
import { emptyModelCache, forward } from '../../src/model/transformer.ts';
import type { SecurityMode } from '../../src/preprocessing/insecure-local-dealer.ts';
import { input } from '../../src/protocols/input.ts';
import { reveal } from '../../src/protocols/reveal.ts';
import { decode } from '../../src/ring/fixed-point.ts';
import * as T from '../../src/ring/tensor.ts';
import { makeDealer, runParties } from './parties.ts';

export async function secureTeacherForcedLogits(
  model: LoadedModel,
  ids: readonly number[],
  opts: { parties: number; mode: SecurityMode; scaleBits?: number },
): Promise<Float64Array[]> {
  const dealer = makeDealer(opts.parties, opts.mode);
  const folded = foldWeights(model.config, model.weights);
  const vocab = model.config.vocabSize;
  const { results } = await runParties(
    dealer,
    async (ctx) => {
      const secure = await loadSecureModel(ctx, model.config, 0, ctx.id === 0 ? folded : undefined);
      const cache = emptyModelCache(secure);
      const onehot = T.zeros(ctx.ring, [1, vocab]);
      T.setElement(onehot, ids[0], 1n);
      const [first] = await input(ctx, [{ owner: 0, shape: [1, vocab], value: ctx.id === 0 ? onehot : undefined }]);
      const out: Float64Array[] = [];
      for (let p = 0; p < ids.length; p++) {
        const logits = await forward(
          ctx,
          secure,
          cache,
          p === 0 ? { kind: 'secret', onehot: first } : { kind: 'public', ids: [ids[p]] },
          1 << 20,
        );
        out.push(decode((await reveal(ctx, [logits]))[0], ctx.scaleBits));
      }
      return out;
    },
    { scaleBits: opts.scaleBits },
  );
  return results[0];
}
