/**
 * Architecture-neutral description of a decoder-only Transformer checkpoint, shared by the
 * loaders (llama2.c `.bin`, Hugging Face safetensors), the plaintext reference and the secure
 * model. Loaders convert every weight to this layout once, so nothing above this file knows
 * about file formats.
 *
 * Layout convention: a linear layer is `y = x · W (+ b)` with `W` stored row-major as
 * `[in, out]` (llama2.c and HF `nn.Linear` store `[out, in]` and are transposed on load;
 * GPT-2's HF `Conv1D` already stores `[in, out]`).
 */

/** A dense float tensor, row-major. */
export interface FloatTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type Architecture = 'llama' | 'gpt2';

export interface ModelConfig {
  readonly arch: Architecture;
  /** Residual width d. */
  readonly dim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  /** Key/value heads (grouped-query attention); equals nHeads for GPT-2. */
  readonly nKvHeads: number;
  /** dim / nHeads. */
  readonly headDim: number;
  /** MLP hidden width (SwiGLU hidden for LLaMA, 4·d for GPT-2). */
  readonly hiddenDim: number;
  readonly vocabSize: number;
  /** Longest context the checkpoint supports (positions). */
  readonly maxSeqLen: number;
  /** RMSNorm / LayerNorm epsilon. */
  readonly normEps: number;
  /** LLaMA only: RoPE base and pairing ('interleaved' = llama2.c/Meta, 'half' = HF rotate_half). */
  readonly ropeTheta: number;
  readonly ropeStyle: 'interleaved' | 'half';
  /** LM head shares the token embedding matrix. */
  readonly tiedEmbeddings: boolean;
  /** GPT-2 only: activation in the MLP. */
  readonly activation: 'silu' | 'gelu_tanh' | 'gelu_erf';
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
}

export interface LlamaLayerWeights {
  readonly attnNorm: FloatTensor; // (dim)
  readonly wq: FloatTensor; // (dim, nHeads*headDim)
  readonly wk: FloatTensor; // (dim, nKvHeads*headDim)
  readonly wv: FloatTensor; // (dim, nKvHeads*headDim)
  readonly wo: FloatTensor; // (nHeads*headDim, dim)
  readonly ffnNorm: FloatTensor; // (dim)
  readonly w1: FloatTensor; // (dim, hidden)  gate
  readonly w3: FloatTensor; // (dim, hidden)  up
  readonly w2: FloatTensor; // (hidden, dim)  down
}

export interface Gpt2LayerWeights {
  readonly ln1Weight: FloatTensor; // (dim)
  readonly ln1Bias: FloatTensor; // (dim)
  readonly qkvWeight: FloatTensor; // (dim, 3*dim)  fused c_attn
  readonly qkvBias: FloatTensor; // (3*dim)
  readonly projWeight: FloatTensor; // (dim, dim)  attn.c_proj
  readonly projBias: FloatTensor; // (dim)
  readonly ln2Weight: FloatTensor; // (dim)
  readonly ln2Bias: FloatTensor; // (dim)
  readonly fcWeight: FloatTensor; // (dim, hidden)  mlp.c_fc
  readonly fcBias: FloatTensor; // (hidden)
  readonly fcProjWeight: FloatTensor; // (hidden, dim)  mlp.c_proj
  readonly fcProjBias: FloatTensor; // (dim)
}

export interface LlamaWeights {
  readonly arch: 'llama';
  readonly tokenEmbedding: FloatTensor; // (vocab, dim)
  readonly layers: readonly LlamaLayerWeights[];
  readonly finalNorm: FloatTensor; // (dim)
  readonly outputEmbedding: FloatTensor; // (vocab, dim): logits = x·outputEmbeddingᵀ; the tokenEmbedding tensor itself when tied
}

export interface Gpt2Weights {
  readonly arch: 'gpt2';
  readonly tokenEmbedding: FloatTensor; // wte (vocab, dim)
  readonly positionEmbedding: FloatTensor; // wpe (maxSeqLen, dim)
  readonly layers: readonly Gpt2LayerWeights[];
  readonly finalNormWeight: FloatTensor; // ln_f (dim)
  readonly finalNormBias: FloatTensor; // (dim)
  readonly outputEmbedding: FloatTensor; // (vocab, dim): logits = x·outputEmbeddingᵀ; the wte tensor itself when tied
}

export type ModelWeights = LlamaWeights | Gpt2Weights;

/** A tokenizer: text ⇄ ids. */
export interface Tokenizer {
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/** A loaded checkpoint: config, weights, and its tokenizer when one was found. */
export interface LoadedModel {
  readonly config: ModelConfig;
  readonly weights: ModelWeights;
  readonly tokenizer: Tokenizer | undefined;
  /** Where it came from (for messages), e.g. the file path. */
  readonly source: string;
}
