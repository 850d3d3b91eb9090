/**
 * Long-running service commands, one OS process each:
 *   mpc-prompt pki init DIR [--name NAME ...]
 *   mpc-prompt coordinator [--config FILE]
 *   mpc-prompt triples     [--config FILE]
 *   mpc-prompt party --id A [--config FILE]
 */
import { parseArgs } from 'node:util';
import { ValidationError } from '../base/errors.ts';
import { loadModelPublic } from '../formats/load-model.ts';
import type { ModelConfig } from '../formats/model-spec.ts';
import { startCoordinator } from '../services/coordinator/coordinator-server.ts';
import { listenAddress } from '../services/grpc-common.ts';
import { type OwnerWeights, weightsOnDemand } from '../services/party/owner-weights.ts';
import { readWithDigest, readWithDigestOffThread } from '../services/party/weights-loader.ts';
import { startPartyNode } from '../services/party/party-node.ts';
import { initDevPki } from '../services/pki.ts';
import { startTripleService } from '../services/triples/triple-server.ts';
import { identity, loadDeploymentConfig, runtime, serveUntilSignal, tlsGuard } from './service-runtime.ts';

type Out = (line: string) => void;
const common = { config: { type: 'string' }, 'insecure-no-tls': { type: 'boolean' } } as const;

export async function pkiCommand(argv: string[], out: Out): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...common, name: { type: 'string', multiple: true } },
    allowPositionals: true,
  });
  if (positionals[0] !== 'init' || positionals.length !== 2)
    throw new ValidationError('usage: mpc-prompt pki init DIR [--name NAME ...]', 'pki');
  const config = loadDeploymentConfig(values.config);
  const names = values.name ?? deploymentNames(config.deployment.parties.map((p) => p.id));
  await initDevPki(positionals[1], { names });
  out(`dev PKI in ${positionals[1]}: ca.crt + ${names.join(', ')} (development only: the CA key is on this disk)`);
}

export function deploymentNames(parties: readonly string[]): string[] {
  return ['coordinator', 'triples', 'enclave', 'kms', ...parties.map((p) => `party-${p}`), ...parties.map((p) => `client-${p}`)];
}

export async function coordinatorCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: common });
  const config = loadDeploymentConfig(values.config);
  const rt = runtime('coordinator');
  tlsGuard(config, values['insecure-no-tls'], rt.logger);
  const model = loadModelPublic(config.deployment.model);
  const c = await startCoordinator({
    config,
    identity: await identity(config, 'coordinator'),
    vocabSize: model.config.vocabSize,
    logger: rt.logger,
    metrics: rt.metrics,
  });
  await serveUntilSignal(rt, config.deployment.coordinator_metrics, () => c.close());
}

export async function triplesCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: common });
  const config = loadDeploymentConfig(values.config);
  const rt = runtime('triples');
  tlsGuard(config, values['insecure-no-tls'], rt.logger);
  const t = await startTripleService({
    address: listenAddress(config.deployment.triples),
    identity: await identity(config, 'triples'),
    poolMinSize: config.triple_pool.min_size,
    logger: rt.logger,
    metrics: rt.metrics,
  });
  await serveUntilSignal(rt, config.deployment.triples_metrics, () => t.close());
}

export async function partyCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...common, id: { type: 'string' } } });
  const config = loadDeploymentConfig(values.config);
  const id = values.id;
  if (!id || !config.deployment.parties.some((p) => p.id === id)) {
    throw new ValidationError(`expected one of ${config.deployment.parties.map((p) => p.id).join(', ')}`, '--id');
  }
  const rt = runtime('party');
  tlsGuard(config, values['insecure-no-tls'], rt.logger);
  // Only the owner's node, and only when the weights do not come from the enclave, reads them: at
  // startup (a bad file fails here), then again for each session's setup (owner-weights.ts).
  const ownsWeights = config.deployment.model_source === 'owner' && config.deployment.model_owner === id;
  const owned = ownsWeights ? ownerWeights(config.deployment.model) : undefined;
  const node = await startPartyNode({
    config,
    partyId: id,
    identity: await identity(config, `party-${id}`),
    modelConfig: owned?.config ?? loadModelPublic(config.deployment.model).config,
    weights: owned?.weights,
    logger: rt.logger,
    metrics: rt.metrics,
  });
  const spec = config.deployment.parties.find((p) => p.id === id);
  await serveUntilSignal(rt, spec?.metrics ?? '', () => node.close());
}

/**
 * The owner node's model: read once now (a bad file fails the start), then lent to sessions and
 * read again off the event loop when a later session needs it (no local keeps the startup copy).
 */
function ownerWeights(path: string): { config: ModelConfig; weights: OwnerWeights } {
  const model = readWithDigest(path);
  return { config: model.config, weights: weightsOnDemand(model, () => readWithDigestOffThread(path)) };
}
