/**
 * A session's weight setup on a party node: where this node's share of the weights comes from
 * (the owner node's plaintext, or the enclave's attested shares) and bringing them into MPC.
 *
 * Memory: the plaintext (owner) or the received shares (enclave) are needed only while the
 * secure model is built, so they are referenced only from this module's short-lived frames and
 * closures, never from the long-running session function: a suspended async frame keeps every
 * value it still holds in a register reachable for the whole session (≈ 0.6 GiB of plaintext for
 * GPT-2-small on the owner's node, ≈ 1.3 GB of shares with the enclave).
 */
import { ProtocolAbort } from '../../base/errors.ts';
import type { ModelConfig } from '../../formats/model-spec.ts';
import { foldWeights } from '../../model/fold-weights.ts';
import { loadSecureModel, loadSecureModelFromShares, type SecureModel } from '../../model/secure-weights.ts';
import type { PartyContext } from '../../protocols/context.ts';
import { fetchWeightShares, type EnclaveTrust } from '../enclave/enclave-client.ts';
import type { WorkItem } from '../gen/mpc_prompt/v1/coordinator.ts';
import type { Logger } from '../log.ts';
import type { TlsIdentity } from '../pki.ts';
import type { OwnerWeights } from './owner-weights.ts';

/** Where this node's share of the weights comes from. */
export type WeightSource =
  /** The owner party's node inputs the weights it holds (only the owner passes `weights`), held
   *  only during the session's weight setup. */
  | { readonly kind: 'owner'; readonly owner: string; readonly weights?: OwnerWeights }
  /** The enclave service deals every node a share, after the node verified its evidence. */
  | { readonly kind: 'enclave'; readonly address: string; readonly trust: EnclaveTrust };

export interface WeightSetup {
  /** Builds the secure model (pinned in the kernels' memory); call once. */
  load(ctx: PartyContext): Promise<SecureModel>;
}

/**
 * Checks the session against the weight source and starts what can run ahead: the enclave's
 * shares are fetched (and its evidence verified) while the peers connect.
 */
export function startWeightSetup(o: {
  readonly source: WeightSource;
  readonly item: WorkItem;
  /** This node's index in the session. */
  readonly me: number;
  readonly config: ModelConfig;
  readonly identity: TlsIdentity;
  readonly logger: Logger;
}): WeightSetup {
  const w = o.source;
  const n = o.item.parties.length;
  if (w.kind === 'owner') {
    const owner = o.item.parties.findIndex((p) => p.partyId === w.owner);
    if (owner < 0) throw new ProtocolAbort('the model owner is not part of the session');
    const lent = o.me === owner ? w.weights : undefined;
    if (o.me === owner && !lent) throw new ProtocolAbort('this node is the model owner but holds no weights');
    return { load: (ctx) => inputWeights(ctx, o.config, owner, lent) };
  }
  let fetched: ReturnType<typeof fetchWeightShares> | undefined = fetchWeightShares({
    address: w.address,
    identity: o.identity,
    sessionId: o.item.sessionId,
    partyIndex: o.me,
    parties: n,
    config: o.config,
    trust: w.trust,
  });
  fetched.catch(() => undefined); // awaited in load; avoid an unhandled rejection while connecting
  return {
    load: async (ctx) => {
      const pending = fetched;
      if (!pending) throw new Error('WeightSetup.load: the enclave shares were already used');
      fetched = undefined; // the settled promise would keep the shares for the session's lifetime
      const f = await pending;
      o.logger.log('info', 'enclave evidence verified', {
        model_sha256: f.modelSha256,
        insecure_dev: f.evidence.details?.insecureDev === true,
      });
      return loadSecureModelFromShares(ctx, o.config, f.shares, { pin: true });
    },
  };
}

/** The owner inputs its plaintext (`lent`, only on the owner's node); the others their zero shares. */
async function inputWeights(ctx: PartyContext, config: ModelConfig, owner: number, lent: OwnerWeights | undefined): Promise<SecureModel> {
  const own = lent && (await lent.acquire());
  try {
    return await loadSecureModel(ctx, config, owner, own && foldWeights(config, own), { pin: true });
  } finally {
    lent?.release();
  }
}
