/**
 * A small GPT-2 with a hand-written backward pass, in the spirit of karpathy's llm.c
 * `train_gpt2.c`: encoder, layernorm, matmul, attention, gelu (tanh form, "gelu_new"),
 * residual and a cross-entropy over the tied LM head — each with its backward (kernels.ts).
 * Plain loops over typed arrays; a batch is packed row by row (sequences have different lengths,
 * nothing is padded), attention stays within each sequence.
 *
 * Differences from llm.c: linear weights are stored `[in, out]` (the Hugging Face GPT-2
 * `Conv1D` layout, so export is a copy), and the loss (and so the LM head) is evaluated only at
 * the positions listed by the caller (the answer tokens).
 *
 * Parameters are stored as float32 (exactly what is exported and what the reference evaluates)
 * and computed with as float64, like the activations and gradients.
 */
import {
  attentionBackward,
  attentionForward,
  crossEntropyForwardBackward,
  encoderBackward,
  encoderForward,
  type F64,
  geluBackward,
  geluForward,
  gemmABt,
  layernormBackward,
  layernormForward,
  matmulBackward,
  matmulForward,
  type MatmulScratch,
  type SequenceBlocks,
  transposeInto,
} from './kernels.ts';
import { trainingPrng } from './prng.ts';

export interface TrainConfig {
  readonly vocabSize: number;
  /** Positions (wpe rows). */
  readonly maxT: number;
  readonly nLayer: number;
  readonly nHead: number;
  /** Residual width C. */
  readonly nEmbd: number;
  /** LayerNorm epsilon (written to config.json as layer_norm_epsilon). */
  readonly eps: number;
}

/** Names, shapes and offsets of every parameter tensor in the flat parameter array. */
export interface ParamLayout {
  readonly total: number;
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[]; readonly offset: number; readonly size: number }[];
}

/**
 * The parameter tensors in llm.c order, per layer stacked along the first axis (`ln1w` is
 * [L, C] etc.). Matrix layouts are [in, out].
 */
export function paramLayout(c: TrainConfig): ParamLayout {
  const { vocabSize: V, maxT, nLayer: L, nEmbd: C } = c;
  const spec: [string, number[]][] = [
    ['wte', [V, C]],
    ['wpe', [maxT, C]],
    ['ln1w', [L, C]],
    ['ln1b', [L, C]],
    ['qkvw', [L, C, 3 * C]],
    ['qkvb', [L, 3 * C]],
    ['attprojw', [L, C, C]],
    ['attprojb', [L, C]],
    ['ln2w', [L, C]],
    ['ln2b', [L, C]],
    ['fcw', [L, C, 4 * C]],
    ['fcb', [L, 4 * C]],
    ['fcprojw', [L, 4 * C, C]],
    ['fcprojb', [L, C]],
    ['lnfw', [C]],
    ['lnfb', [C]],
  ];
  let offset = 0;
  const tensors = spec.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = { name, shape, offset, size };
    offset += size;
    return t;
  });
  return { total: offset, tensors };
}

/** Offset of a named parameter tensor. */
export function paramOffset(layout: ParamLayout, name: string): number {
  const t = layout.tensors.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no parameter ${name}`);
  return t.offset;
}

/**
 * GPT-2 initialisation (nanoGPT / llm.c): N(0, 0.02) for embeddings and matrices, the
 * residual projections (attn c_proj, mlp c_proj) scaled by 1/√(2L), zero biases, unit LayerNorm
 * gains. Seeded and deterministic.
 */
export function initParams(c: TrainConfig, seed: number): Float32Array {
  const layout = paramLayout(c);
  const params = new Float32Array(layout.total);
  const rng = trainingPrng(seed);
  const residualStd = 0.02 / Math.sqrt(2 * c.nLayer);
  for (const t of layout.tensors) {
    const view = params.subarray(t.offset, t.offset + t.size);
    if (t.name === 'ln1w' || t.name === 'ln2w' || t.name === 'lnfw') view.fill(1);
    else if (t.name.endsWith('b')) view.fill(0);
    else {
      const std = t.name === 'attprojw' || t.name === 'fcprojw' ? residualStd : 0.02;
      for (let i = 0; i < view.length; i++) view[i] = std * rng.gaussian();
    }
  }
  return params;
}

/** Which parameter entries get weight decay: the matrices and embeddings, not biases or gains. */
export function decayMask(c: TrainConfig): Uint8Array {
  const layout = paramLayout(c);
  const mask = new Uint8Array(layout.total);
  for (const t of layout.tensors) {
    if (['wte', 'wpe', 'qkvw', 'attprojw', 'fcw', 'fcprojw'].includes(t.name)) mask.fill(1, t.offset, t.offset + t.size);
  }
  return mask;
}

/** One training sequence: input tokens (positions 0..T-1) and where the loss applies. */
export interface TrainSequence {
  /** The full token sequence; inputs are tokens[0..T), targets tokens[1..T]. */
  readonly tokens: readonly number[];
  /** Number of input positions T (≤ tokens.length − 1: every loss position needs a target). */
  readonly length: number;
  /** Positions t whose next-token prediction (tokens[t + 1]) enters the loss. */
  readonly lossPositions: readonly number[];
}

/** Per-layer activations of a packed batch. */
interface LayerActs {
  ln1: F64;
  ln1Mean: F64;
  ln1Rstd: F64;
  qkv: F64;
  att: F64;
  atty: F64;
  residual2: F64;
  ln2: F64;
  ln2Mean: F64;
  ln2Rstd: F64;
  fch: F64;
  fchGelu: F64;
  residual3: F64;
}

/** Per-layer views of the working float64 weights, plus the transposed matrices. */
interface LayerWeights {
  ln1w: F64;
  ln1b: F64;
  qkvw: F64;
  qkvwT: F64;
  qkvb: F64;
  attprojw: F64;
  attprojwT: F64;
  attprojb: F64;
  ln2w: F64;
  ln2b: F64;
  fcw: F64;
  fcwT: F64;
  fcb: F64;
  fcprojw: F64;
  fcprojwT: F64;
  fcprojb: F64;
}

/** Per-layer views of a flat gradient array. */
type LayerGrads = Omit<LayerWeights, 'qkvwT' | 'attprojwT' | 'fcwT' | 'fcprojwT'>;

function layerViews(layout: ParamLayout, flat: F64, c: TrainConfig, l: number): LayerGrads {
  const C = c.nEmbd;
  const at = (name: string, size: number) => {
    const o = paramOffset(layout, name) + l * size;
    return flat.subarray(o, o + size);
  };
  return {
    ln1w: at('ln1w', C),
    ln1b: at('ln1b', C),
    qkvw: at('qkvw', C * 3 * C),
    qkvb: at('qkvb', 3 * C),
    attprojw: at('attprojw', C * C),
    attprojb: at('attprojb', C),
    ln2w: at('ln2w', C),
    ln2b: at('ln2b', C),
    fcw: at('fcw', C * 4 * C),
    fcb: at('fcb', 4 * C),
    fcprojw: at('fcprojw', 4 * C * C),
    fcprojb: at('fcprojb', C),
  };
}

function globalView(layout: ParamLayout, flat: F64, name: string): F64 {
  const t = layout.tensors.find((x) => x.name === name)!;
  return flat.subarray(t.offset, t.offset + t.size);
}

/**
 * Forward and backward of packed batches. Keeps a float64 working copy of the parameters
 * (refreshed by {@link setParams} after every optimizer step) and accumulates gradients into
 * `grads` (zeroed by the caller).
 */
export class Gpt2Trainer {
  readonly layout: ParamLayout;
  readonly grads: F64;
  private readonly w: F64;
  private readonly lw: LayerWeights[];
  private readonly lg: LayerGrads[];
  private readonly wte: F64;
  private readonly wteT: F64;
  private readonly wpe: F64;
  private readonly lnfw: F64;
  private readonly lnfb: F64;
  private capacity = 0;
  private lossCapacity = 0;
  private attCapacity = 0;
  // packed batch
  private N = 0;
  private tok = new Int32Array(0);
  private pos = new Int32Array(0);
  private blocks: SequenceBlocks = { count: 0, start: new Int32Array(0), length: new Int32Array(0), attOffset: new Int32Array(0) };
  // activations
  private encoded: F64 = new Float64Array(0);
  private acts: LayerActs[] = [];
  private lnf: F64 = new Float64Array(0);
  private lnfMean: F64 = new Float64Array(0);
  private lnfRstd: F64 = new Float64Array(0);
  // gradient scratch
  private dres: F64 = new Float64Array(0);
  private dln: F64 = new Float64Array(0);
  private datty: F64 = new Float64Array(0);
  private dqkv: F64 = new Float64Array(0);
  private dfch: F64 = new Float64Array(0);
  private dfchGelu: F64 = new Float64Array(0);
  private scratch: MatmulScratch = { inpT: new Float64Array(0), doutT: new Float64Array(0) };
  private datt: F64;
  // loss rows
  private X: F64 = new Float64Array(0);
  private XT: F64 = new Float64Array(0);
  private logits: F64 = new Float64Array(0);
  private dlogT: F64 = new Float64Array(0);
  private dX: F64 = new Float64Array(0);
  private targets = new Int32Array(0);
  private lossRows = new Int32Array(0);

  constructor(
    readonly config: TrainConfig,
    params: Float32Array | Float64Array,
    grads?: Float64Array,
  ) {
    this.layout = paramLayout(config);
    const total = this.layout.total;
    if (params.length !== total || (grads !== undefined && grads.length !== total)) throw new Error('parameter/gradient size mismatch');
    this.grads = grads ?? new Float64Array(total);
    this.w = new Float64Array(total);
    const C = config.nEmbd;
    this.lw = Array.from({ length: config.nLayer }, (_, l) => ({
      ...layerViews(this.layout, this.w, config, l),
      qkvwT: new Float64Array(C * 3 * C),
      attprojwT: new Float64Array(C * C),
      fcwT: new Float64Array(C * 4 * C),
      fcprojwT: new Float64Array(4 * C * C),
    }));
    this.lg = Array.from({ length: config.nLayer }, (_, l) => layerViews(this.layout, this.grads, config, l));
    this.wte = globalView(this.layout, this.w, 'wte');
    this.wteT = new Float64Array(config.vocabSize * C);
    this.wpe = globalView(this.layout, this.w, 'wpe');
    this.lnfw = globalView(this.layout, this.w, 'lnfw');
    this.lnfb = globalView(this.layout, this.w, 'lnfb');
    this.datt = new Float64Array(config.maxT);
    this.setParams(params);
  }

  /** Copies the parameters into the float64 working set and refreshes the transposed matrices. */
  setParams(params: Float32Array | Float64Array): void {
    const C = this.config.nEmbd;
    for (let i = 0; i < params.length; i++) this.w[i] = params[i];
    for (const lw of this.lw) {
      transposeInto(lw.qkvwT, lw.qkvw, C, 3 * C);
      transposeInto(lw.attprojwT, lw.attprojw, C, C);
      transposeInto(lw.fcwT, lw.fcw, C, 4 * C);
      transposeInto(lw.fcprojwT, lw.fcprojw, 4 * C, C);
    }
    transposeInto(this.wteT, this.wte, this.config.vocabSize, C);
  }

  private ensureCapacity(N: number, P: number, att: number): void {
    const { nEmbd: C, nLayer: L, vocabSize: V } = this.config;
    if (N > this.capacity) {
      const f = (n: number) => new Float64Array(n);
      this.capacity = N;
      this.tok = new Int32Array(N);
      this.pos = new Int32Array(N);
      this.encoded = f(N * C);
      this.acts = Array.from({ length: L }, () => ({
        ln1: f(N * C),
        ln1Mean: f(N),
        ln1Rstd: f(N),
        qkv: f(N * 3 * C),
        att: new Float64Array(0),
        atty: f(N * C),
        residual2: f(N * C),
        ln2: f(N * C),
        ln2Mean: f(N),
        ln2Rstd: f(N),
        fch: f(N * 4 * C),
        fchGelu: f(N * 4 * C),
        residual3: f(N * C),
      }));
      this.attCapacity = 0;
      this.lnf = f(N * C);
      this.lnfMean = f(N);
      this.lnfRstd = f(N);
      this.dres = f(N * C);
      this.dln = f(N * C);
      this.datty = f(N * C);
      this.dqkv = f(N * 3 * C);
      this.dfch = f(N * 4 * C);
      this.dfchGelu = f(N * 4 * C);
      this.scratch = { inpT: f(N * 4 * C), doutT: f(N * 4 * C) };
    }
    if (att > this.attCapacity) {
      this.attCapacity = att;
      for (const a of this.acts) a.att = new Float64Array(att);
    }
    if (P > this.lossCapacity) {
      this.lossCapacity = P;
      this.X = new Float64Array(P * C);
      this.XT = new Float64Array(P * C);
      this.logits = new Float64Array(P * V);
      this.dlogT = new Float64Array(P * V);
      this.dX = new Float64Array(P * C);
      this.targets = new Int32Array(P);
      this.lossRows = new Int32Array(P);
    }
  }

  /** Packs the sequences' inputs into rows (one row per input position). */
  private pack(seqs: readonly TrainSequence[]): number {
    const { maxT, nHead: NH, vocabSize: V } = this.config;
    let N = 0;
    let att = 0;
    let P = 0;
    for (const s of seqs) {
      if (s.length < 1 || s.length > maxT || s.length > s.tokens.length)
        throw new RangeError(`sequence length ${s.length} outside [1, ${maxT}]`);
      N += s.length;
      att += NH * s.length * s.length;
      P += s.lossPositions.length;
    }
    this.ensureCapacity(N, P, att);
    const start = new Int32Array(seqs.length);
    const length = new Int32Array(seqs.length);
    const attOffset = new Int32Array(seqs.length);
    let n = 0;
    let a = 0;
    let p = 0;
    seqs.forEach((s, i) => {
      start[i] = n;
      length[i] = s.length;
      attOffset[i] = a;
      for (let t = 0; t < s.length; t++) {
        const id = s.tokens[t];
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`token id ${id} outside [0, ${V})`);
        this.tok[n + t] = id;
        this.pos[n + t] = t;
      }
      for (const t of s.lossPositions) {
        if (t < 0 || t >= s.length || t + 1 >= s.tokens.length) throw new RangeError(`loss position ${t} has no target`);
        this.lossRows[p] = n + t;
        this.targets[p] = s.tokens[t + 1];
        p++;
      }
      n += s.length;
      a += NH * s.length * s.length;
    });
    this.N = N;
    this.blocks = { count: seqs.length, start, length, attOffset };
    return P;
  }

  /** Forward of a packed batch up to ln_f. */
  private forwardPacked(): void {
    const { nLayer: L, nEmbd: C, nHead: NH, eps } = this.config;
    const N = this.N;
    encoderForward(this.encoded, this.tok, this.pos, this.wte, this.wpe, N, C);
    for (let l = 0; l < L; l++) {
      const a = this.acts[l];
      const w = this.lw[l];
      const residual = l === 0 ? this.encoded : this.acts[l - 1].residual3;
      layernormForward(a.ln1, a.ln1Mean, a.ln1Rstd, residual, w.ln1w, w.ln1b, N, C, eps);
      matmulForward(a.qkv, a.ln1, w.qkvwT, w.qkvb, N, C, 3 * C);
      attentionForward(a.atty, a.att, a.qkv, this.blocks, C, NH);
      matmulForward(a.residual2, a.atty, w.attprojwT, w.attprojb, N, C, C);
      for (let i = 0; i < N * C; i++) a.residual2[i] += residual[i];
      layernormForward(a.ln2, a.ln2Mean, a.ln2Rstd, a.residual2, w.ln2w, w.ln2b, N, C, eps);
      matmulForward(a.fch, a.ln2, w.fcwT, w.fcb, N, C, 4 * C);
      geluForward(a.fchGelu, a.fch, N * 4 * C);
      matmulForward(a.residual3, a.fchGelu, w.fcprojwT, w.fcprojb, N, 4 * C, C);
      for (let i = 0; i < N * C; i++) a.residual3[i] += a.residual2[i];
    }
    layernormForward(this.lnf, this.lnfMean, this.lnfRstd, this.acts[L - 1].residual3, this.lnfw, this.lnfb, N, C, eps);
  }

  /** Logits [P, V] at the packed loss rows (ln_f output · wteᵀ, the tied LM head). */
  private lossLogits(P: number): F64 {
    const { nEmbd: C, vocabSize: V } = this.config;
    for (let p = 0; p < P; p++) this.X.set(this.lnf.subarray(this.lossRows[p] * C, (this.lossRows[p] + 1) * C), p * C);
    gemmABt(this.logits, this.X, this.wte, P, V, C, false);
    return this.logits;
  }

  /**
   * Logits at the given positions of each sequence (after a forward), e.g. the last position
   * for greedy decoding. Returns [Σ positions, V] row-major.
   */
  logitsAt(seqs: readonly TrainSequence[]): F64 {
    const P = this.pack(seqs);
    this.forwardPacked();
    return this.lossLogits(P).subarray(0, P * this.config.vocabSize);
  }

  /**
   * Forward + backward of a batch; ADDS d(gradScale · Σ losses)/dθ to `grads`.
   * Returns Σ losses and how many loss positions were already predicted correctly (argmax).
   */
  forwardBackward(seqs: readonly TrainSequence[], gradScale: number): { loss: number; correct: number; count: number } {
    const { nLayer: L, nEmbd: C, nHead: NH, vocabSize: V } = this.config;
    const P = this.pack(seqs);
    const N = this.N;
    this.forwardPacked();
    const logits = this.lossLogits(P);
    const { loss, correct } = crossEntropyForwardBackward(logits, this.targets, P, V, gradScale);
    // tied LM head: dX = dlogits · wte, dwte += dlogitsᵀ · X; scatter dX into dlnf rows
    const gwte = globalView(this.layout, this.grads, 'wte');
    gemmABt(this.dX, logits, this.wteT, P, C, V, false);
    transposeInto(this.dlogT, logits, P, V);
    transposeInto(this.XT, this.X, P, C);
    gemmABt(gwte, this.dlogT, this.XT, V, C, P, true);
    const dlnf = this.dln;
    dlnf.fill(0, 0, N * C);
    for (let p = 0; p < P; p++) {
      const r = this.lossRows[p] * C;
      for (let i = 0; i < C; i++) dlnf[r + i] += this.dX[p * C + i];
    }
    const dres = this.dres;
    dres.fill(0, 0, N * C);
    const lastResidual = this.acts[L - 1].residual3;
    layernormBackward(
      dres,
      globalView(this.layout, this.grads, 'lnfw'),
      globalView(this.layout, this.grads, 'lnfb'),
      dlnf,
      lastResidual,
      this.lnfw,
      this.lnfMean,
      this.lnfRstd,
      N,
      C,
    );
    const s = this.scratch;
    for (let l = L - 1; l >= 0; l--) {
      const a = this.acts[l];
      const w = this.lw[l];
      const g = this.lg[l];
      const residual = l === 0 ? this.encoded : this.acts[l - 1].residual3;
      // residual3 = residual2 + fcproj(gelu(fc(ln2(residual2)))): dres flows through unchanged
      this.dfchGelu.fill(0, 0, N * 4 * C);
      matmulBackward(this.dfchGelu, g.fcprojw, g.fcprojb, dres, a.fchGelu, w.fcprojw, N, 4 * C, C, s);
      this.dfch.fill(0, 0, N * 4 * C);
      geluBackward(this.dfch, a.fch, this.dfchGelu, N * 4 * C);
      this.dln.fill(0, 0, N * C);
      matmulBackward(this.dln, g.fcw, g.fcb, this.dfch, a.ln2, w.fcw, N, C, 4 * C, s);
      layernormBackward(dres, g.ln2w, g.ln2b, this.dln, a.residual2, w.ln2w, a.ln2Mean, a.ln2Rstd, N, C);
      // residual2 = residual + attproj(attention(qkv(ln1(residual))))
      this.datty.fill(0, 0, N * C);
      matmulBackward(this.datty, g.attprojw, g.attprojb, dres, a.atty, w.attprojw, N, C, C, s);
      this.dqkv.fill(0, 0, N * 3 * C);
      attentionBackward(this.dqkv, this.datty, a.qkv, a.att, this.datt, this.blocks, C, NH);
      this.dln.fill(0, 0, N * C);
      matmulBackward(this.dln, g.qkvw, g.qkvb, this.dqkv, a.ln1, w.qkvw, N, C, 3 * C, s);
      layernormBackward(dres, g.ln1w, g.ln1b, this.dln, residual, w.ln1w, a.ln1Mean, a.ln1Rstd, N, C);
    }
    encoderBackward(gwte, globalView(this.layout, this.grads, 'wpe'), dres, this.tok, this.pos, N, C);
    return { loss, correct, count: P };
  }
}
