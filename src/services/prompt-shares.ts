/**
 * How a client's prompt part travels: its token ids are split into n additive shares in
 * Z_(2^b), b = ⌈log2 vocab⌉ (one per party node, in deployment order: each id x_t as
 * Σ_i s_i,t mod 2^b with s_1..s_(n−1) uniform), each node's shares serialised as little-endian
 * u32 values (4 bytes per token) and sealed to that node's X25519 key with
 * AAD = "mpc-prompt/prompt/v2|<session name>|<owner party>|<recipient party>".
 * Any n − 1 shares are uniform and independent of the ids. The coordinator routes the sealed
 * bytes; each node unseals only its own share and turns it into secret one-hot rows a prefill
 * block at a time (protocols/index-one-hot.ts). Version 1 carried [length, vocab] one-hot shares
 * over Z_2^64 (0.4 MB per token and node for GPT-2); a v1 share does not open as v2 (the AAD
 * differs), so a mixed deployment fails with a precise error instead of misreading bytes.
 */
import { ValidationError } from '../base/errors.ts';
import { Prg, randomSeed } from '../crypto/prg.ts';
import { open, SEAL_OVERHEAD_BYTES, seal, type SealingKeyPair } from '../crypto/sealing.ts';
import { indexBits } from '../protocols/index-one-hot.ts';

/** What a node signs (with its TLS key) to bind its X25519 sealing key to its certificate. */
export function sealingKeyMessage(partyId: string, sealingPublicKey: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('mpc-prompt/sealing-key/v1'), Buffer.from(partyId), sealingPublicKey]);
}

export function promptAad(sessionName: string, owner: string, recipient: string): Uint8Array {
  return new TextEncoder().encode(`mpc-prompt/prompt/v2|${sessionName}|${owner}|${recipient}`);
}

/** Byte length of a sealed prompt share of `length` tokens (4 bytes per token plus the sealing's 48). */
export const sealedPromptBytes = (length: number): number => 4 * length + SEAL_OVERHEAD_BYTES;

/** Seals one share of the prompt part's token ids to every node; keys: node id → X25519 public key. */
export function sealPromptPart(
  ids: readonly number[],
  vocab: number,
  sessionName: string,
  owner: string,
  nodeKeys: ReadonlyMap<string, Uint8Array>,
): Map<string, Uint8Array> {
  const bits = indexBits(vocab);
  const low = 2 ** bits - 1;
  ids.forEach((id, t) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab)
      throw new ValidationError(`token id ${id} is outside [0, ${vocab})`, `prompt[${t}]`);
  });
  const nodes = [...nodeKeys.keys()];
  // n − 1 uniform shares (the low b bits of AES-CTR words from a fresh OS seed), the last one the rest.
  const words = new Prg(randomSeed()).words((nodes.length - 1) * ids.length);
  const shares = nodes.map(() => new Uint32Array(ids.length));
  ids.forEach((id, t) => {
    let rest = id;
    for (let i = 0; i < nodes.length - 1; i++) {
      shares[i][t] = Number(words[i * ids.length + t] & BigInt(low));
      rest -= shares[i][t];
    }
    shares[nodes.length - 1][t] = rest & low;
  });
  return new Map(
    nodes.map((node, i) => [node, seal(nodeKeys.get(node) as Uint8Array, littleEndian(shares[i]), promptAad(sessionName, owner, node))]),
  );
}

/** A node's share of one part: `length` values in Z_(2^b), b = indexBits(vocab). */
export function openPromptShare(
  keys: SealingKeyPair,
  sealed: Uint8Array,
  length: number,
  vocab: number,
  sessionName: string,
  owner: string,
  me: string,
): Uint32Array {
  let plain: Uint8Array;
  try {
    plain = open(keys, sealed, promptAad(sessionName, owner, me));
  } catch {
    throw new ValidationError(
      `the prompt share of party ${owner} does not open with this node's key (wrong recipient, session, format version or tampered)`,
    );
  }
  if (plain.length !== length * 4)
    throw new ValidationError(`the prompt share of party ${owner} has ${plain.length} bytes, expected ${length * 4} (4 per token)`);
  const view = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  const size = 2 ** indexBits(vocab);
  const out = new Uint32Array(length);
  for (let t = 0; t < length; t++) {
    out[t] = view.getUint32(4 * t, true);
    if (out[t] >= size) throw new ValidationError(`the prompt share of party ${owner} has ${out[t]} at token ${t}, expected < ${size}`);
  }
  return out;
}

function littleEndian(values: Uint32Array): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, t) => view.setUint32(4 * t, v, true));
  return out;
}
