/*
 * migrations.c — the SQLite schema, as numbered migrations.
 *
 * Never edit a migration that has been released: add a new one. Times are
 * integer µs since the epoch (UTC). Every merchant-owned table carries
 * merchant_id and every query filters on it.
 */
#include "db/sqlite/sqlite_internal.h"

const struct sqlite_migration sqlite_migrations[] = {
    {1, "merchants, currencies, api keys, integrators",
     "CREATE TABLE merchants ("
     "  id TEXT PRIMARY KEY,"
     "  name TEXT NOT NULL,"
     "  environment TEXT NOT NULL CHECK (environment IN ('SANDBOX','PRODUCTION')),"
     "  sms_enabled INTEGER NOT NULL DEFAULT 1,"
     "  whatsapp_enabled INTEGER NOT NULL DEFAULT 1,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL"
     ") STRICT;"
     "CREATE TABLE merchant_currencies ("
     "  merchant_id TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,"
     "  code TEXT NOT NULL,"
     "  position INTEGER NOT NULL,"
     "  is_default INTEGER NOT NULL,"
     "  PRIMARY KEY (merchant_id, code)"
     ") STRICT;"
     "CREATE TABLE api_keys ("
     "  id TEXT PRIMARY KEY,"
     "  merchant_id TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,"
     "  prefix TEXT NOT NULL,"
     "  last4 TEXT NOT NULL,"
     "  hash BLOB NOT NULL UNIQUE,"
     "  created_at INTEGER NOT NULL,"
     "  revoked_at INTEGER"
     ") STRICT;"
     "CREATE INDEX api_keys_merchant ON api_keys(merchant_id);"
     "CREATE TABLE integrators ("
     "  id TEXT PRIMARY KEY,"
     "  merchant_id TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,"
     "  name TEXT NOT NULL,"
     "  type TEXT NOT NULL CHECK (type IN ('OMS','CLICKATELL_PRODUCT','APPLICATION')),"
     "  status TEXT NOT NULL CHECK (status IN ('ACTIVATED','DEACTIVATED','DELETED')),"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL"
     ") STRICT;"
     "CREATE INDEX integrators_merchant ON integrators(merchant_id, created_at);"},
};

const int sqlite_migration_count = sizeof sqlite_migrations / sizeof sqlite_migrations[0];
