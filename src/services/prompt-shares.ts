/**
 * How a client's prompt part travels: the one-hot rows [length, vocab] of its token ids over
 * Z_2^64 are split into n additive shares (one per party node, in deployment order), each
 * serialised as little-endian 64-bit words and sealed to that node's X25519 key with
 * AAD = "mpc-prompt/prompt/v1|<session name>|<owner party>|<recipient party>".
 * The coordinator routes the sealed bytes; each node unseals only its own share.
 */
import { ValidationError } from '../base/errors.ts';
import { Prg, randomSeed } from '../crypto/prg.ts';
import { open, seal, type SealingKeyPair } from '../crypto/sealing.ts';
import { bytesToWords, wordsToBytes } from '../net/codec.ts';
import { Z64 } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import { split } from '../sharing/additive.ts';

/** What a node signs (with its TLS key) to bind its X25519 sealing key to its certificate. */
export function sealingKeyMessage(partyId: string, sealingPublicKey: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('mpc-prompt/sealing-key/v1'), Buffer.from(partyId), sealingPublicKey]);
}

export function promptAad(sessionName: string, owner: string, recipient: string): Uint8Array {
  return new TextEncoder().encode(`mpc-prompt/prompt/v1|${sessionName}|${owner}|${recipient}`);
}

/** Seals one share of the one-hot prompt part to every node; keys: node id → X25519 public key. */
export function sealPromptPart(
  ids: readonly number[],
  vocab: number,
  sessionName: string,
  owner: string,
  nodeKeys: ReadonlyMap<string, Uint8Array>,
): Map<string, Uint8Array> {
  const onehot = T.zeros(Z64, [ids.length, vocab]);
  ids.forEach((id, t) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab)
      throw new ValidationError(`token id ${id} is outside [0, ${vocab})`, `prompt[${t}]`);
    T.setElement(onehot, t * vocab + id, 1n);
  });
  const nodes = [...nodeKeys.keys()];
  const shares = split(onehot, nodes.length, new Prg(randomSeed()));
  return new Map(
    nodes.map((node, i) => [
      node,
      seal(nodeKeys.get(node) as Uint8Array, wordsToBytes(shares[i].data), promptAad(sessionName, owner, node)),
    ]),
  );
}

/** A node's share of one part, [length, vocab] over Z_2^64. */
export function openPromptShare(
  keys: SealingKeyPair,
  sealed: Uint8Array,
  length: number,
  vocab: number,
  sessionName: string,
  owner: string,
  me: string,
): RingTensor {
  let plain: Uint8Array;
  try {
    plain = open(keys, sealed, promptAad(sessionName, owner, me));
  } catch {
    throw new ValidationError(
      `the prompt share of party ${owner} does not open with this node's key (wrong recipient, session or tampered)`,
    );
  }
  if (plain.length !== length * vocab * 8)
    throw new ValidationError(`the prompt share of party ${owner} has ${plain.length} bytes, expected ${length * vocab * 8}`);
  return T.tensor(Z64, [length, vocab], bytesToWords(plain));
}
