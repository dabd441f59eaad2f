import { MemoryLimitStore } from '../../src/limits/memory.ts';
import { limitStoreContract } from './contract.ts';

limitStoreContract('memory', {}, async () => new MemoryLimitStore());
