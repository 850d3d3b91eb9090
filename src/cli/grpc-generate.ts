/**
 * `generate --transport grpc`: runs the request through the real deployment — a triple service,
 * a coordinator and one node per party as separate processes on free loopback ports with a
 * fresh dev PKI — with party A's client submitting the whole prompt and the other parties' clients
 * empty parts. Same ids as `--transport memory`, at real-network cost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LoadedModel } from '../formats/model-spec.ts';
import { submitPrompt } from '../services/client/submit.ts';
import { loadIdentity } from '../services/pki.ts';
import type { SessionStats } from '../services/memory-session.ts';
import { startLocalDeployment } from './local-deployment.ts';
import { scratchOwnerDeployment } from './scratch-deployment.ts';

export interface GrpcGenerateOptions {
  readonly modelPath: string;
  readonly model: LoadedModel;
  readonly promptIds: readonly number[];
  readonly parties: number;
  readonly mode: 'semi-honest' | 'malicious';
  readonly scaleBits: number;
  readonly chebyDeg?: number;
  readonly maxContext: number;
  /** scheduler.prefill_chunk (undefined: the config default). */
  readonly prefillChunk?: number;
  readonly maxNewTokens: number;
  readonly sampling: { topK: number; temperature: number; seed: string };
}

export async function generateOverGrpc(o: GrpcGenerateOptions): Promise<{ ids: number[]; stats: SessionStats }> {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-prompt-generate-'));
  const {
    config,
    configPath,
    partyIds: ids,
  } = await scratchOwnerDeployment(dir, {
    parties: o.parties,
    model: resolve(o.modelPath),
    top: {
      security: { mode: o.mode },
      fixed_point: { scale_bits: o.scaleBits },
      ...(o.chebyDeg === undefined ? {} : { cheby: { deg: o.chebyDeg } }),
      scheduler: { max_context: o.maxContext, ...(o.prefillChunk === undefined ? {} : { prefill_chunk: o.prefillChunk }) },
    },
    deployment: { session_timeout_s: 3600 },
  });
  const deployment = await startLocalDeployment(config, configPath, join(dir, 'logs'));
  try {
    const start = performance.now();
    const results = await Promise.all(
      ids.map(async (id, i) =>
        submitPrompt({
          config,
          partyId: id,
          identity: await loadIdentity(config.deployment.pki_dir, `client-${id}`),
          sessionName: 'generate',
          ids: i === 0 ? o.promptIds : [],
          vocabSize: o.model.config.vocabSize,
          maxNewTokens: o.maxNewTokens,
          sampling: o.sampling,
        }),
      ),
    );
    const s = results[0].stats;
    return {
      ids: results[0].ids,
      stats: {
        ms_per_token: s?.msPerToken ?? 0,
        bytes_per_token_per_party: s?.bytesPerTokenPerParty ?? 0,
        rounds_per_token: s?.roundsPerToken ?? 0,
        prefill_ms: s?.prefillMs ?? 0,
        setup_ms: performance.now() - start,
        tokens: results[0].ids.length,
        parties: o.parties,
        security: o.mode,
        preprocessing_bytes_per_party: 0,
      },
    };
  } finally {
    await deployment.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
