/**
 * gRPC message limits sized from the prompt a configuration admits: token-id shares take 4 bytes
 * per token and share (services/prompt-shares.ts), so every realistic prompt fits the 256 MiB
 * floor; the cap only matters for absurd max_context values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_MESSAGE_BYTES, promptChannelOptions, promptMessageBytes } from './grpc-common.ts';

test('prompt message limits: sized from shares × max_context × 4 bytes, at least 256 MiB, at most 2^31 − 1', () => {
  // A 2-node client's SubmitPrompt of 1,024 tokens: two sealed shares of 1,024 u32 values.
  assert.equal(promptMessageBytes(2, 1024), 2 * 1024 * 4 + 2 ** 20);
  const small = promptChannelOptions(2, 1024);
  assert.equal(small['grpc.max_receive_message_length'], MAX_MESSAGE_BYTES);
  assert.equal(small['grpc.max_send_message_length'], small['grpc.max_receive_message_length']);
  assert.equal(small['grpc.ssl_target_name_override'], 'localhost'); // the other channel options are kept
  // 2^26 tokens in each of 2 shares need more than the floor; beyond gRPC's 32-bit limit the limit is capped.
  assert.equal(promptChannelOptions(2, 2 ** 26)['grpc.max_receive_message_length'], 2 * 2 ** 26 * 4 + 2 ** 20);
  assert.equal(promptChannelOptions(3, 2 ** 28)['grpc.max_receive_message_length'], 2 ** 31 - 1);
});
