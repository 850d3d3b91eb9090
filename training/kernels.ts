/**
 * Forward and backward kernels of the trainer (llm.c `train_gpt2.c` style), over a packed batch:
 * the N tokens of all sequences are rows of one [N, C] matrix (sequences are not padded);
 * position-wise layers treat rows independently, attention works per sequence block.
 *
 * Everything is float64 and row-major. Products are written as `A·Bᵀ` dot products
 * ({@link gemmABt}), four rows of A at a time, so the inner loop keeps its sums in registers.
 */
export type F64 = Float64Array;

/**
 * out[m, n] (+)= Σ_k A[m, k]·B[n, k]   (A [M, K], B [N, K], out [M, N]).
 * `accumulate` adds to out; otherwise out is overwritten.
 */
export function gemmABt(out: F64, A: F64, B: F64, M: number, N: number, K: number, accumulate: boolean): void {
  let m = 0;
  for (; m + 3 < M; m += 4) {
    const a0 = m * K;
    const a1 = a0 + K;
    const a2 = a1 + K;
    const a3 = a2 + K;
    const o0 = m * N;
    for (let n = 0; n < N; n++) {
      const b = n * K;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < K; k++) {
        const w = B[b + k];
        s0 += A[a0 + k] * w;
        s1 += A[a1 + k] * w;
        s2 += A[a2 + k] * w;
        s3 += A[a3 + k] * w;
      }
      if (accumulate) {
        out[o0 + n] += s0;
        out[o0 + N + n] += s1;
        out[o0 + 2 * N + n] += s2;
        out[o0 + 3 * N + n] += s3;
      } else {
        out[o0 + n] = s0;
        out[o0 + N + n] = s1;
        out[o0 + 2 * N + n] = s2;
        out[o0 + 3 * N + n] = s3;
      }
    }
  }
  for (; m < M; m++) {
    const a = m * K;
    for (let n = 0; n < N; n++) {
      const b = n * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[a + k] * B[b + k];
      if (accumulate) out[m * N + n] += s;
      else out[m * N + n] = s;
    }
  }
}

/** out [cols, rows] = transpose of inp [rows, cols]. */
export function transposeInto(out: F64, inp: F64, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = inp[o + c];
  }
}

/** Scratch space for the matmul backward (transposed operands). */
export interface MatmulScratch {
  readonly inpT: F64;
  readonly doutT: F64;
}

/**
 * Linear layer forward: out [N, OC] = inp [N, IC] · W + b, given Wᵀ [OC, IC] (the caller keeps
 * the transposed weights up to date).
 */
export function matmulForward(out: F64, inp: F64, wT: F64, b: F64, N: number, IC: number, OC: number): void {
  gemmABt(out, inp, wT, N, OC, IC, false);
  for (let n = 0; n < N; n++) {
    const o = n * OC;
    for (let j = 0; j < OC; j++) out[o + j] += b[j];
  }
}

/**
 * Linear layer backward, accumulating: dinp += dout · Wᵀ (W [IC, OC]), dW += inpᵀ · dout,
 * db += Σ_n dout[n].
 */
export function matmulBackward(
  dinp: F64,
  dw: F64,
  db: F64,
  dout: F64,
  inp: F64,
  w: F64,
  N: number,
  IC: number,
  OC: number,
  s: MatmulScratch,
): void {
  gemmABt(dinp, dout, w, N, IC, OC, true);
  transposeInto(s.inpT, inp, N, IC);
  transposeInto(s.doutT, dout, N, OC);
  gemmABt(dw, s.inpT, s.doutT, IC, OC, N, true);
  for (let n = 0; n < N; n++) {
    const o = n * OC;
    for (let j = 0; j < OC; j++) db[j] += dout[o + j];
  }
}

/** out[n] = wte[token[n]] + wpe[pos[n]]. */
export function encoderForward(out: F64, tokens: Int32Array, pos: Int32Array, wte: F64, wpe: F64, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const ix = tokens[n] * C;
    const px = pos[n] * C;
    const o = n * C;
    for (let i = 0; i < C; i++) out[o + i] = wte[ix + i] + wpe[px + i];
  }
}

export function encoderBackward(dwte: F64, dwpe: F64, dout: F64, tokens: Int32Array, pos: Int32Array, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const ix = tokens[n] * C;
    const px = pos[n] * C;
    const o = n * C;
    for (let i = 0; i < C; i++) {
      dwte[ix + i] += dout[o + i];
      dwpe[px + i] += dout[o + i];
    }
  }
}

/** LayerNorm over rows (biased variance); saves mean and 1/std per row for the backward. */
export function layernormForward(out: F64, mean: F64, rstd: F64, inp: F64, w: F64, b: F64, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let m = 0;
    for (let i = 0; i < C; i++) m += inp[o + i];
    m /= C;
    let v = 0;
    for (let i = 0; i < C; i++) {
      const d = inp[o + i] - m;
      v += d * d;
    }
    const s = 1 / Math.sqrt(v / C + eps);
    for (let i = 0; i < C; i++) out[o + i] = (inp[o + i] - m) * s * w[i] + b[i];
    mean[n] = m;
    rstd[n] = s;
  }
}

/** LayerNorm backward, accumulating into dinp, dw, db. */
export function layernormBackward(
  dinp: F64,
  dw: F64,
  db: F64,
  dout: F64,
  inp: F64,
  w: F64,
  mean: F64,
  rstd: F64,
  N: number,
  C: number,
): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    const m = mean[n];
    const s = rstd[n];
    let dnormMean = 0;
    let dnormNormMean = 0;
    for (let i = 0; i < C; i++) {
      const norm = (inp[o + i] - m) * s;
      const dnorm = w[i] * dout[o + i];
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let i = 0; i < C; i++) {
      const norm = (inp[o + i] - m) * s;
      const dnorm = w[i] * dout[o + i];
      db[i] += dout[o + i];
      dw[i] += norm * dout[o + i];
      dinp[o + i] += (dnorm - dnormMean - norm * dnormNormMean) * s;
    }
  }
}

/** Where each sequence of a packed batch lives: rows start..start+length, attention at attOffset. */
export interface SequenceBlocks {
  readonly count: number;
  readonly start: Int32Array;
  readonly length: Int32Array;
  /** Offset of the sequence's [NH, T, T] attention probabilities. */
  readonly attOffset: Int32Array;
}

/**
 * Causal multi-head attention per sequence. qkv [N, 3C] = [q | k | v]; out [N, C];
 * att holds the softmax probabilities, [NH, T, T] per sequence (row t uses columns 0..t).
 */
export function attentionForward(out: F64, att: F64, qkv: F64, blocks: SequenceBlocks, C: number, NH: number): void {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  for (let sq = 0; sq < blocks.count; sq++) {
    const S = blocks.start[sq];
    const T = blocks.length[sq];
    const A = blocks.attOffset[sq];
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (S + t) * C3 + h * hs;
        const a = A + (h * T + t) * T;
        let max = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (S + t2) * C3 + C + h * hs;
          let s = 0;
          for (let i = 0; i < hs; i++) s += qkv[q + i] * qkv[k + i];
          s *= scale;
          att[a + t2] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const e = Math.exp(att[a + t2] - max);
          att[a + t2] = e;
          sum += e;
        }
        const inv = 1 / sum;
        const o = (S + t) * C + h * hs;
        for (let i = 0; i < hs; i++) out[o + i] = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const p = att[a + t2] * inv;
          att[a + t2] = p;
          const v = (S + t2) * C3 + 2 * C + h * hs;
          for (let i = 0; i < hs; i++) out[o + i] += p * qkv[v + i];
        }
      }
    }
  }
}

/** Attention backward, accumulating into dqkv; datt is scratch of at least maxT entries. */
export function attentionBackward(
  dqkv: F64,
  dout: F64,
  qkv: F64,
  att: F64,
  datt: F64,
  blocks: SequenceBlocks,
  C: number,
  NH: number,
): void {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  for (let sq = 0; sq < blocks.count; sq++) {
    const S = blocks.start[sq];
    const T = blocks.length[sq];
    const A = blocks.attOffset[sq];
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const a = A + (h * T + t) * T;
        const o = (S + t) * C + h * hs;
        // out = Σ p·v:  dp[t2] = dout · v[t2],  dv[t2] += p · dout
        let dot = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = (S + t2) * C3 + 2 * C + h * hs;
          const p = att[a + t2];
          let d = 0;
          for (let i = 0; i < hs; i++) {
            d += dout[o + i] * qkv[v + i];
            dqkv[v + i] += p * dout[o + i];
          }
          datt[t2] = d;
          dot += p * d;
        }
        // softmax: ds = p ⊙ (dp − Σ p·dp);  scores = (q · k)·scale
        const q = (S + t) * C3 + h * hs;
        for (let t2 = 0; t2 <= t; t2++) {
          const ds = att[a + t2] * (datt[t2] - dot) * scale;
          const k = (S + t2) * C3 + C + h * hs;
          for (let i = 0; i < hs; i++) {
            dqkv[q + i] += ds * qkv[k + i];
            dqkv[k + i] += ds * qkv[q + i];
          }
        }
      }
    }
  }
}

const GELU_SCALE = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (GPT-2's gelu_new), the formula of src/reference/ops.ts geluTanh. */
export function geluForward(out: F64, inp: F64, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + 0.044715 * x * x * x)));
  }
}

/** GELU backward, accumulating into dinp. */
export function geluBackward(dinp: F64, inp: F64, dout: F64, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    const th = Math.tanh(GELU_SCALE * (x + 0.044715 * x * x * x));
    const local = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_SCALE * (1 + 3 * 0.044715 * x * x);
    dinp[i] += local * dout[i];
  }
}

/**
 * Softmax cross-entropy over rows of logits [P, V] with targets; overwrites the logits with
 * dloss/dlogits · gradScale. Returns Σ losses and how many rows have argmax = target.
 */
export function crossEntropyForwardBackward(
  logits: F64,
  targets: Int32Array,
  P: number,
  V: number,
  gradScale: number,
): { loss: number; correct: number } {
  let loss = 0;
  let correct = 0;
  for (let p = 0; p < P; p++) {
    const o = p * V;
    let max = -Infinity;
    let arg = 0;
    for (let v = 0; v < V; v++) {
      if (logits[o + v] > max) {
        max = logits[o + v];
        arg = v;
      }
    }
    const target = targets[p];
    if (arg === target) correct++;
    let sum = 0;
    for (let v = 0; v < V; v++) {
      const e = Math.exp(logits[o + v] - max);
      logits[o + v] = e;
      sum += e;
    }
    loss -= Math.log(logits[o + target] / sum);
    for (let v = 0; v < V; v++) logits[o + v] = (logits[o + v] / sum - (v === target ? 1 : 0)) * gradScale;
  }
  return { loss, correct };
}
