import { runChannelConformance } from '../../test/conformance/channel.case.ts';
import { createMemoryNetwork } from './memory-channel.ts';

runChannelConformance({
  name: 'MemoryChannel',
  create: async (n) => ({ channels: createMemoryNetwork(n), dispose: async () => {} }),
});
