/**
 * Virtual keys handed out by the admin API and `switchyard keys create`. The plaintext is shown
 * once and never stored: the store keeps its SHA-256 (the same `hashKey` that authentication
 * uses) and a short prefix an operator can recognise it by.
 */
import { randomBytes } from 'node:crypto';
import { hashKey } from './keys.ts';

/** Every generated key starts with this, so a leaked one is recognisable (and scannable) as ours. */
export const VIRTUAL_KEY_PREFIX = 'sk-sy-';
/** Characters of the plaintext kept for display: `sk-sy-` and 4 random ones (24 bits, useless to guess with). */
export const KEY_PREFIX_LENGTH = 10;

export interface GeneratedKey {
  plaintext: string;
  /** Lower-case hex SHA-256 of the plaintext. */
  keyHash: string;
  keyPrefix: string;
}

/** `sk-sy-` + 32 random bytes in base64url (43 characters). */
export function generateVirtualKey(): GeneratedKey {
  const plaintext = `${VIRTUAL_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { plaintext, keyHash: hashKey(plaintext), keyPrefix: plaintext.slice(0, KEY_PREFIX_LENGTH) };
}

/** A stored key's id: `key_` + 12 random bytes in hex. Not a secret: it appears in URLs and records. */
export function newKeyId(): string {
  return `key_${randomBytes(12).toString('hex')}`;
}
