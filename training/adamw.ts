/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019), as in
 * llm.c `gpt2_update`, with decoupled weight decay applied only where `decayMask` is 1.
 * Moments are float64; parameters are updated in place (float32 storage rounds each step).
 */
export interface AdamWOptions {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

export class AdamW {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(
    private readonly params: Float32Array,
    private readonly decayMask: Uint8Array,
    private readonly opts: AdamWOptions,
  ) {
    this.m = new Float64Array(params.length);
    this.v = new Float64Array(params.length);
  }

  /** One update with learning rate `lr` from gradients `grads` (not modified). */
  step(grads: Float64Array, lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.opts;
    this.t++;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    const { params, m, v, decayMask } = this;
    for (let i = 0; i < params.length; i++) {
      const g = grads[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const mhat = m[i] / c1;
      const vhat = v[i] / c2;
      params[i] -= lr * (mhat / (Math.sqrt(vhat) + eps) + (decayMask[i] ? weightDecay * params[i] : 0));
    }
  }
}

/** Linear warm-up to `peak` over `warmup` steps, then cosine decay to `floor`·peak at `total`. */
export function learningRate(step: number, total: number, peak: number, warmup: number, floor: number): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
