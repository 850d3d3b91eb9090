/**
 * The configuration of a throw-away local deployment in `dir` (used by `generate --transport grpc`
 * and `bench`): a fresh PKI folder, free loopback ports for the coordinator, the triple service and
 * one node per party (ids A, B, C, …), no metrics endpoints, and party A's node inputting the
 * weights (`model_source: owner` — these commands hold the plaintext model themselves).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfigFile, type Config } from '../config/config.ts';
import { freePort } from '../net/free-port.ts';

export interface ScratchDeployment {
  readonly config: Config;
  readonly configPath: string;
  readonly partyIds: string[];
}

export async function scratchOwnerDeployment(
  dir: string,
  o: { parties: number; model: string; top?: Record<string, unknown>; deployment?: Record<string, unknown> },
): Promise<ScratchDeployment> {
  const partyIds = Array.from({ length: o.parties }, (_, i) => String.fromCharCode(65 + i));
  const ports = await Promise.all(Array.from({ length: o.parties + 2 }, freePort));
  const raw = {
    ...o.top,
    deployment: {
      pki_dir: join(dir, 'pki'),
      coordinator: `localhost:${ports[0]}`,
      triples: `localhost:${ports[1]}`,
      coordinator_metrics: '',
      triples_metrics: '',
      parties: partyIds.map((id, i) => ({ id, data: `localhost:${ports[i + 2]}`, metrics: '' })),
      model: o.model,
      model_owner: 'A',
      model_source: 'owner',
      ...o.deployment,
    },
  };
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(raw));
  return { config: loadConfigFile(configPath), configPath, partyIds };
}
