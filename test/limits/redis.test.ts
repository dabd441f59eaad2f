import { randomBytes } from 'node:crypto';
import { RedisLimitStore } from '../../src/limits/redis.ts';
import { REDIS } from '../helpers/services.ts';
import { limitStoreContract } from './contract.ts';

/** Each test on its own key prefix of the shared Redis, so tests never see each other's counters. */
limitStoreContract('redis', REDIS, async () => {
  const store = new RedisLimitStore('redis://127.0.0.1:6379', {
    prefix: `sytest:${randomBytes(6).toString('hex')}:`,
  });
  await store.connect();
  return store;
});
