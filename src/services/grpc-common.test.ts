/**
 * gRPC message limits sized from the prompt a configuration admits: a one-hot prompt of
 * max_context tokens over GPT-2's vocabulary takes 0.4 MB per token and share, so a 2-node
 * SubmitPrompt of more than 333 tokens exceeds the 256 MiB floor.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_MESSAGE_BYTES, promptChannelOptions, promptMessageBytes } from './grpc-common.ts';

const GPT2_VOCAB = 50_257;

test('prompt message limits: sized from shares × max_context × vocab × 8 bytes, at least 256 MiB, at most 2^31 − 1', () => {
  // A 2-node client's SubmitPrompt of 1,024 tokens: two sealed shares of [1024, 50257] words.
  assert.equal(promptMessageBytes(2, 1024, GPT2_VOCAB), 2 * 1024 * GPT2_VOCAB * 8 + 2 ** 20);
  const big = promptChannelOptions(2, 1024, GPT2_VOCAB);
  assert.equal(big['grpc.max_receive_message_length'], 2 * 1024 * GPT2_VOCAB * 8 + 2 ** 20);
  assert.equal(big['grpc.max_send_message_length'], big['grpc.max_receive_message_length']);
  assert.equal(big['grpc.ssl_target_name_override'], 'localhost'); // the other channel options are kept
  // Small prompts keep the floor; beyond gRPC's 32-bit limit the limit is capped.
  assert.equal(promptChannelOptions(2, 64, 512)['grpc.max_receive_message_length'], MAX_MESSAGE_BYTES);
  assert.equal(promptChannelOptions(3, 4096, GPT2_VOCAB)['grpc.max_receive_message_length'], 2 ** 31 - 1);
});
