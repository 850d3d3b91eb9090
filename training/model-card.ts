/** The model card (README.md) written next to the default model. */
import { statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { MAX_OPERAND } from './data.ts';
import type { Evaluation } from './evaluate.ts';
import { paramLayout } from './gpt2-train.ts';
import type { TrainOptions, TrainResult } from './train-default-model.ts';

export interface CardInput {
  readonly dir: string;
  readonly options: TrainOptions;
  readonly result: TrainResult;
  readonly evaluation: Evaluation | undefined;
  readonly command: string;
}

/**
 * A Markdown table with padded columns (the layout prettier gives tables, so the written card
 * passes `prettier --check` unchanged).
 */
export function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const width = (s: string) => [...s].length;
  const widths = header.map((h, i) => Math.max(3, width(h), ...rows.map((r) => width(r[i]))));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c + ' '.repeat(widths[i] - width(c))).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

export function modelCard({ dir, options: o, result, evaluation: e, command }: CardInput): string {
  const c = result.config;
  const params = paramLayout(c).total;
  const bytes = statSync(join(dir, 'model.safetensors')).size;
  const cpu = cpus();
  const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, ${o.threads} training thread(s)`;
  const pct = (n: number, d: number) => `${((100 * n) / d).toFixed(2)} %`;
  const evalText =
    e === undefined
      ? 'Not evaluated in this run (`--no-eval`).'
      : [
          `Greedy decoding with the project's plaintext float64 reference (\`src/reference\`, loaded through`,
          `\`loadHfCheckpoint\`), every prompt \`a+b=\` for all ${e.problems.toLocaleString('en-US')} pairs (a, b) ∈ [0, ${MAX_OPERAND}]²,`,
          `stopping at \`\\n\`:`,
          '',
          mdTable(
            ['metric', 'value'],
            [
              ['exact answers (`c\\n`)', `**${e.correct} / ${e.problems} (${pct(e.correct, e.problems)})**`],
              [`min top-2 logit margin over the answer tokens, ${e.marginSample} seeded random prompts`, e.minMarginSample.toFixed(3)],
              [
                `min top-2 logit margin over the answer tokens, all ${e.problems} prompts`,
                `${e.minMarginAll.toFixed(3)} (at \`${e.minMarginAt}\`)`,
              ],
              ['largest \\|logit\\| seen', e.maxAbsLogit.toFixed(1)],
            ],
          ),
          ...(e.failures.length > 0 ? ['', 'Wrong answers (first 10):', '', ...e.failures.map((f) => `- \`${f}\``)] : []),
          '',
          'The margin is the gap between the largest and second-largest logit at each generated',
          'token; the secure engine computes in fixed point (≈ 1e-3 relative error), so a greedy',
          'choice is safe when the margin is well above the absolute logit error.',
          'The evaluation covers the same input space the model was trained on (all problems can',
          'occur in training): it measures how exactly the task was learnt, not generalisation.',
        ].join('\n');
  const history = mdTable(
    ['step', 'seconds', 'exact', 'min margin', 'problems with margin < 1'],
    result.scores.map((s) => [String(s.step), s.seconds.toFixed(0), String(s.exact), s.minMargin.toFixed(3), String(s.below1)]),
  );
  const parties = mdTable(
    ['party', 'private prompt part', 'example'],
    [
      ['A', '`a+`', '`27+`'],
      ['B', '`b=`', '`58=`'],
    ],
  );
  const files = mdTable(
    ['file', 'content'],
    [
      ['`config.json`', 'Hugging Face GPT-2 config (`model_type: "gpt2"`)'],
      [
        '`model.safetensors`',
        `F32 weights, HF GPT-2 tensor names, Conv1D \`[in, out]\` layout, tied LM head (${(bytes / 1024).toFixed(0)} KiB)`,
      ],
      ['`vocab.json`, `merges.txt`', 'the byte-level tokenizer'],
      ['`README.md`', 'this card'],
    ],
  );
  return `# Default model: \`a+b=\` adder (GPT-2, ${params.toLocaleString('en-US')} parameters)

The project's embedded default model. It is trained by the project itself, from scratch, with
a seeded and reproducible pure-TypeScript trainer (\`training/\`), and its output is easy to
check by hand: given two numbers it writes their sum.

    prompt  "27+58="      →  model writes  "85\\n"
    prompt  "99+99="      →  model writes  "198\\n"

## Use in a two-party demo

The prompt is \`a+b=\` in decimal (no spaces, no leading zeros, a, b ∈ [0, ${MAX_OPERAND}]):

${parties}

The parts are concatenated in party order (A, then B). The model writes the digits of a + b,
most significant first, then \`\\n\` (token id ${c.vocabSize === 256 ? 198 : '?'}, also \`eos_token_id\` in config.json): generate
with greedy decoding, at most 4 new tokens, and stop at that id. The longest prompt + answer
is 10 tokens ("99+99=198\\n"), well within the ${c.maxT} positions of the model.

Tokenizer: GPT-2 byte-level BPE with **no merges** (\`merges.txt\` holds only the version
header): every character is one token, with GPT-2's byte ids (digits \`0\`-\`9\` = 15-24, \`+\` = 10,
\`=\` = 28, \`\\n\` = 198). The vocabulary is exactly the 256 byte tokens.

## Files

${files}

## Architecture

GPT-2 (pre-LayerNorm decoder, learned positions, \`gelu_new\` MLP, LM head tied to the token
embedding): ${c.nLayer} layers, d = ${c.nEmbd}, ${c.nHead} heads of ${c.nEmbd / c.nHead}, MLP ${4 * c.nEmbd}, ${c.maxT} positions,
vocabulary ${c.vocabSize}, LayerNorm ε = ${c.eps.toExponential()}. **${params.toLocaleString('en-US')} parameters.**

## Training

- **Data**: synthetic, generated on the fly (\`training/data.ts\`): the text \`a+b=c\\n\` for a, b
  uniform in [0, ${MAX_OPERAND}]. Cross-entropy only on the answer tokens (the digits of c and \`\\n\`);
  the prompt tokens are context only.
- **Trainer**: \`training/gpt2-train.ts\` + \`training/kernels.ts\` — forward and hand-written
  backward (encoder, LayerNorm, matmul, causal attention, GELU, residual, softmax
  cross-entropy), in the spirit of llm.c's \`train_gpt2.c\`, float64 activations, float32
  weights; checked against finite differences by \`training/gradcheck.ts\`.
- **Optimiser**: AdamW (β = 0.9, 0.99, ε = 1e-8, weight decay ${o.weightDecay} on matrices and embeddings),
  ${o.steps} steps of ${o.batch} sequences, peak learning rate ${o.lr}, ${o.warmup} warm-up steps, cosine decay
  to ${o.lrFloor}× the peak. GPT-2 initialisation (N(0, 0.02), residual projections / √(2L)).
- **Hard-example mining**: from step ${Math.floor(o.steps * o.hardFrom)} on, every ${o.hardEvery} steps all ${(MAX_OPERAND + 1) ** 2} problems are
  scored teacher-forced (smallest gap between the target logit and the best other logit
  over the answer tokens), and ${Math.round(o.hardFraction * 100)} % of each batch is drawn from the ${o.hardPool} lowest-scoring
  problems (the rest stays uniform). This spends the late steps on the rare carries and
  pushes up the worst-case margins instead of the average loss.
- **Seed**: ${o.seed} (\`trainingPrng\`, a non-cryptographic mulberry32 stream, for initialisation and
  data). Same options ⇒ byte-identical \`config.json\`, \`model.safetensors\`, \`vocab.json\` and
  \`merges.txt\` (the gradient of each batch is summed over two fixed shards, so the thread
  count does not change the numbers); only this README's timing differs between runs.
- **Training time**: ${result.seconds.toFixed(0)} s wall-clock (${(result.seconds / 60).toFixed(1)} min) on ${machine}.

Scores during training (teacher-forced, all ${(MAX_OPERAND + 1) ** 2} problems; margin = target logit − best other):

${history}

## Evaluation

${evalText}

## Reproduce

    ${command}

(from the repository root; add \`--threads 1\` on a single core — same files, slower.)
The test \`models/default/default-model.test.ts\` loads this directory with the project's
loader and checks 200 seeded random problems with the plaintext reference.

## License

MIT, like the rest of the project. The training data is synthetic (generated by the script).
`;
}
