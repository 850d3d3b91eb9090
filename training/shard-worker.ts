/** Worker thread of shards.ts: computes the second shard's gradients (or logits) on request. */
import { parentPort, workerData } from 'node:worker_threads';
import { Gpt2Trainer, type TrainConfig } from './gpt2-train.ts';
import type { ShardRequest, ShardResult } from './shards.ts';

const { config, params, grads } = workerData as { config: TrainConfig; params: Float32Array; grads: Float64Array };
const trainer = new Gpt2Trainer(config, params, grads);

parentPort!.on('message', (req: ShardRequest) => {
  trainer.setParams(params);
  if (req.kind === 'train') {
    grads.fill(0);
    const r: ShardResult = trainer.forwardBackward(req.seqs, req.gradScale);
    parentPort!.postMessage(r);
  } else {
    parentPort!.postMessage(trainer.logitsAt(req.seqs).slice());
  }
});
