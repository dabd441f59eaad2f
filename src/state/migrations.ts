/**
 * Versioned schema migrations. Each runs once per database, in its own transaction, and is
 * recorded in `schema_migrations`; a store runs the missing ones when it opens. The SQLite and
 * PostgreSQL texts describe the same logical schema (same tables, columns, keys and indexes); only
 * the type names differ. Never edit a released migration: add the next version.
 *
 * Times are epoch milliseconds (integers), so both databases compare and index them the same way
 * and no time zone is ever involved. JSON values (key models, budget, boundary; request attempts)
 * are stored as text.
 */

export interface Migration {
  version: number;
  name: string;
  sqlite: readonly string[];
  postgres: readonly string[];
}

export const MIGRATIONS_TABLE = {
  sqlite: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at_ms INTEGER NOT NULL
  ) STRICT`,
  postgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at_ms BIGINT NOT NULL
  )`,
};

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'keys, counters, requests, spend_daily',
    sqlite: [
      `CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL CONSTRAINT keys_name_unique UNIQUE,
        key_hash TEXT NOT NULL CONSTRAINT keys_hash_unique UNIQUE,
        key_prefix TEXT NOT NULL,
        team TEXT,
        models TEXT,
        rpm INTEGER,
        tpm INTEGER,
        budget TEXT,
        boundary TEXT,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER,
        revoked_at_ms INTEGER
      ) STRICT`,
      `CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT`,
      `INSERT INTO counters (name, value) VALUES ('keys_version', 0)`,
      `CREATE TABLE requests (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        started_at_ms INTEGER NOT NULL,
        operation TEXT NOT NULL,
        key_id TEXT,
        key_name TEXT,
        team TEXT,
        model TEXT NOT NULL,
        stream INTEGER NOT NULL,
        status INTEGER NOT NULL,
        error_code TEXT,
        provider TEXT,
        deployment TEXT,
        latency_ms REAL NOT NULL,
        ttft_ms REAL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        cached_tokens INTEGER,
        cache_write_tokens INTEGER,
        reasoning_tokens INTEGER,
        cost_usd REAL,
        boundary TEXT,
        capacity TEXT,
        attempts TEXT NOT NULL,
        request_body TEXT,
        response_body TEXT
      ) STRICT`,
      `CREATE INDEX requests_started_idx ON requests (started_at_ms, seq)`,
      `CREATE INDEX requests_key_name_idx ON requests (key_name, started_at_ms, seq)`,
      `CREATE INDEX requests_model_idx ON requests (model, started_at_ms, seq)`,
      `CREATE TABLE spend_daily (
        scope TEXT NOT NULL,
        day TEXT NOT NULL,
        usd REAL NOT NULL,
        requests INTEGER NOT NULL,
        PRIMARY KEY (scope, day)
      ) STRICT`,
    ],
    postgres: [
      `CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL CONSTRAINT keys_name_unique UNIQUE,
        key_hash TEXT NOT NULL CONSTRAINT keys_hash_unique UNIQUE,
        key_prefix TEXT NOT NULL,
        team TEXT,
        models TEXT,
        rpm BIGINT,
        tpm BIGINT,
        budget TEXT,
        boundary TEXT,
        created_at_ms BIGINT NOT NULL,
        expires_at_ms BIGINT,
        revoked_at_ms BIGINT
      )`,
      `CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`,
      `INSERT INTO counters (name, value) VALUES ('keys_version', 0)`,
      `CREATE TABLE requests (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL,
        started_at_ms BIGINT NOT NULL,
        operation TEXT NOT NULL,
        key_id TEXT,
        key_name TEXT,
        team TEXT,
        model TEXT NOT NULL,
        stream BOOLEAN NOT NULL,
        status INTEGER NOT NULL,
        error_code TEXT,
        provider TEXT,
        deployment TEXT,
        latency_ms DOUBLE PRECISION NOT NULL,
        ttft_ms DOUBLE PRECISION,
        input_tokens BIGINT,
        output_tokens BIGINT,
        cached_tokens BIGINT,
        cache_write_tokens BIGINT,
        reasoning_tokens BIGINT,
        cost_usd DOUBLE PRECISION,
        boundary TEXT,
        capacity TEXT,
        attempts TEXT NOT NULL,
        request_body TEXT,
        response_body TEXT
      )`,
      `CREATE INDEX requests_started_idx ON requests (started_at_ms, seq)`,
      `CREATE INDEX requests_key_name_idx ON requests (key_name, started_at_ms, seq)`,
      `CREATE INDEX requests_model_idx ON requests (model, started_at_ms, seq)`,
      `CREATE TABLE spend_daily (
        scope TEXT NOT NULL,
        day DATE NOT NULL,
        usd DOUBLE PRECISION NOT NULL,
        requests BIGINT NOT NULL,
        PRIMARY KEY (scope, day)
      )`,
    ],
  },
];
