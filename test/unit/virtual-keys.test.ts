/** Virtual keys: recognisable, random, and stored only as the hash authentication computes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashKey } from '../../src/identity/keys.ts';
import { generateVirtualKey, newKeyId } from '../../src/identity/virtual-keys.ts';

describe('generateVirtualKey', () => {
  it('is sk-sy- and 32 random bytes in base64url, with its SHA-256 and a 10-character prefix', () => {
    const key = generateVirtualKey();
    assert.match(key.plaintext, /^sk-sy-[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(key.plaintext.slice(6), 'base64url').length, 32);
    assert.equal(key.keyHash, hashKey(key.plaintext));
    assert.match(key.keyHash, /^[0-9a-f]{64}$/);
    assert.equal(key.keyPrefix, key.plaintext.slice(0, 10));
  });

  it('never repeats', () => {
    const plaintexts = new Set(Array.from({ length: 1000 }, () => generateVirtualKey().plaintext));
    assert.equal(plaintexts.size, 1000);
  });
});

describe('newKeyId', () => {
  it('is key_ and 24 hex characters, different each time', () => {
    const [a, b] = [newKeyId(), newKeyId()];
    assert.match(a, /^key_[0-9a-f]{24}$/);
    assert.notEqual(a, b);
  });
});
