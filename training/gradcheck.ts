/**
 * Finite-difference check of the hand-written backward pass (training/gpt2-train.ts):
 * `node --import tsx training/gradcheck.ts`. Float64 parameters, central differences, a tiny
 * model with random (non-trivial) LayerNorm gains and biases; prints the worst relative error
 * per parameter tensor and exits 1 if any exceeds 1e-5.
 */
import { example, trainSequence } from './data.ts';
import { Gpt2Trainer, initParams, paramLayout, type TrainConfig } from './gpt2-train.ts';
import { trainingPrng } from './prng.ts';

const config: TrainConfig = { vocabSize: 256, maxT: 12, nLayer: 2, nHead: 2, nEmbd: 8, eps: 1e-5 };
const layout = paramLayout(config);
const rng = trainingPrng(7);
const params = Float64Array.from(initParams(config, 3));
for (let i = 0; i < params.length; i++) params[i] += 0.3 * rng.gaussian(); // move away from the symmetric init
const seqs = [example(27, 58), example(5, 99), example(0, 0)].map(trainSequence);
const trainer = new Gpt2Trainer(config, params);
const lossOf = (): number => new Gpt2Trainer(config, params).forwardBackward(seqs, 1).loss;
trainer.forwardBackward(seqs, 1);
const grads = trainer.grads;
let worst = 0;
const h = 1e-5;
for (const t of layout.tensors) {
  let tensorWorst = 0;
  // wte: check the rows actually used (digits, '+', '=', '\n') and a few unused ones.
  const picks = Array.from({ length: 25 }, () => t.offset + rng.int(t.size));
  if (t.name === 'wte') for (const tok of seqs[0].tokens) picks.push(t.offset + tok * config.nEmbd + rng.int(config.nEmbd));
  for (const i of picks) {
    const saved = params[i];
    params[i] = saved + h;
    const up = lossOf();
    params[i] = saved - h;
    const down = lossOf();
    params[i] = saved;
    const numeric = (up - down) / (2 * h);
    // relative error, with an absolute floor for gradients that are zero in exact arithmetic
    // (e.g. the key bias: adding a constant to every score of a row leaves the softmax unchanged)
    const rel = Math.abs(numeric - grads[i]) / Math.max(1e-4, Math.abs(numeric) + Math.abs(grads[i]));
    tensorWorst = Math.max(tensorWorst, rel);
  }
  console.log(`${t.name.padEnd(9)} worst relative error ${tensorWorst.toExponential(2)}`);
  worst = Math.max(worst, tensorWorst);
}
console.log(worst < 1e-5 ? 'gradient check passed' : 'gradient check FAILED');
process.exit(worst < 1e-5 ? 0 : 1);
