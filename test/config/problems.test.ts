import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { didYouMean, editDistance, formatPath } from '../../src/config/problems.ts';
import { createRedactor } from '../../src/config/redaction.ts';

describe('formatPath', () => {
  it('writes list indexes in brackets and keys with dots', () => {
    assert.equal(formatPath(['providers', 1, 'type']), 'providers[1].type');
    assert.equal(formatPath(['keys', 0, 'boundary', 'providers', 2]), 'keys[0].boundary.providers[2]');
    assert.equal(formatPath(['server']), 'server');
    assert.equal(formatPath([]), '');
  });

  it('quotes keys that are not plain names', () => {
    assert.equal(formatPath(['providers', 0, 'headers', 'x.api key']), 'providers[0].headers["x.api key"]');
  });
});

describe('didYouMean', () => {
  it('finds near misses, case-insensitively', () => {
    assert.equal(editDistance('reserch', 'research'), 1);
    assert.equal(editDistance('teh', 'the'), 1, 'a transposition is one edit');
    assert.equal(didYouMean('apikey', ['id', 'type', 'apiKey']), 'apiKey');
    assert.equal(didYouMean('reserch', ['research', 'platform']), 'research');
    assert.equal(didYouMean('azure-eastu', ['azure-eastus', 'bedrock-us-east-1']), 'azure-eastus');
  });

  it('finds a truncated name', () => {
    assert.equal(didYouMean('cached', ['input', 'output', 'cachedInput']), 'cachedInput');
  });

  it('stays quiet when nothing is close', () => {
    assert.equal(didYouMean('foo', ['providers', 'models']), undefined);
    assert.equal(didYouMean('x', []), undefined);
  });
});

describe('createRedactor', () => {
  const tree = {
    storage: 'postgres://u:pw@db/x',
    providers: [{ id: 'p', apiKey: 'sk-abcdef', headers: { 'x-token': 'hdr-value' }, region: 'eu' }],
    keys: [{ name: 'a', key: 'k-1234567' }],
  };
  const redactor = createRedactor(tree, [['providers', 0, 'region']], ['env-value-1']);

  it('quotes plain values and refuses credentials, connection URLs and env-derived values', () => {
    assert.equal(redactor.quote(['providers', 0, 'id']), '"p"');
    assert.equal(redactor.quote(['providers', 0, 'apiKey']), undefined);
    assert.equal(redactor.quote(['providers', 0, 'headers', 'x-token']), undefined);
    assert.equal(redactor.quote(['keys', 0, 'key']), undefined);
    assert.equal(redactor.quote(['storage']), undefined);
    assert.equal(redactor.quote(['providers', 0, 'region']), undefined);
  });

  it('treats misspelt credential keys as credentials', () => {
    assert.equal(redactor.isSensitive(['providers', 0, 'apikey']), true);
    assert.equal(redactor.isSensitive(['providers', 0, 'client_secret']), true);
    assert.equal(redactor.isSensitive(['providers', 0, 'endpoint']), false);
  });

  it('scrubs credentials and substituted env values from any message', () => {
    const message = 'saw sk-abcdef, hdr-value, k-1234567 and env-value-1 near "p"';
    assert.equal(redactor.scrub(message), 'saw ***, ***, *** and *** near "p"');
  });
});
