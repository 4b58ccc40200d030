/*
 * store_sql.c - store.h over the SQL driver interface of sqldb.h: every query once, for
 * SQLite (sqldb_sqlite.c) and PostgreSQL (sqldb_pg.c). docs/store.md is the specification.
 *
 * SQL here is the common subset of SQLite 3.40 and PostgreSQL 15: ?N placeholders, INSERT
 * ... RETURNING id, ON CONFLICT ... DO UPDATE, integers as 64-bit, booleans as 0/1
 * integers, CAST(?N AS BIGINT/TEXT/INTEGER) wherever PostgreSQL could not tell a parameter's
 * type from its context. Only the DDL differs, hence one migration list per dialect; the two
 * lists have the same length and produce the same tables, so schema_version agrees.
 *
 * Connections: a pool (SQLite: one connection, so the pool is the old connection + mutex;
 * PostgreSQL: POOL_PG connections, made on first use). An operation borrows a connection
 * for its duration, or uses its transaction's. A connection that reports GONE is closed and
 * made again on next use; the operation returns ALD_STORE_UNAVAILABLE.
 *
 * Schema changes are migrations: each applied once, in its own transaction, and recorded in
 * schema_version; on PostgreSQL the whole run holds pg_advisory_lock(MIGRATE_LOCK_KEY) so
 * nodes starting together migrate once. A database whose schema is newer than this build
 * knows is refused rather than misread.
 */
#include "store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "airlift/version.h"
#include "log.h"
#include "metrics.h"
#include "sqldb.h"

#define POOL_PG 4
#define POOL_MAX 16
/* Advisory lock keys (PostgreSQL): one for migrations, one serialising event appends. */
#define MIGRATE_LOCK_KEY INT64_C(0x6169726c69667401) /* "airlift" 01 */
#define EVENT_LOCK_KEY INT64_C(0x6169726c69667402)
#define EVENTS_CHANNEL "airlift_events"
#define NO_LIMIT INT64_MAX

enum dialect { DIALECT_SQLITE, DIALECT_PG };

/* ---- migrations ---- */

/* SQLite: migration N is sqlite_migrations[N - 1]. Append only: never edit a released one. */
static const char *const sqlite_migrations[] = {
    /* 1: tokens, products (a stub for fleets), devices, images, events. */
    "CREATE TABLE api_tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  sha256 BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),"
    "  scope TEXT NOT NULL CHECK (scope IN ('read', 'operator', 'admin')),"
    "  created_at INTEGER NOT NULL,"
    "  last_used_at INTEGER,"
    "  revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE products ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  platform INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE devices ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  psk_identity TEXT NOT NULL UNIQUE,"
    "  psk BLOB NOT NULL,"
    "  platform INTEGER NOT NULL,"
    "  dev INTEGER NOT NULL DEFAULT 0,"
    "  product_id INTEGER REFERENCES products(id) ON DELETE SET NULL,"
    "  created_at INTEGER NOT NULL,"
    "  last_seen_at INTEGER,"
    "  inventory TEXT,"
    "  reported_at INTEGER);"
    "CREATE TABLE images ("
    "  sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),"
    "  function INTEGER NOT NULL,"
    "  module_index INTEGER NOT NULL,"
    "  platform INTEGER NOT NULL,"
    "  version TEXT NOT NULL,"
    "  version_key TEXT NOT NULL,"
    "  security_counter INTEGER NOT NULL,"
    "  link_address INTEGER NOT NULL,"
    "  payload_size INTEGER NOT NULL,"
    "  file_size INTEGER NOT NULL,"
    "  key_id TEXT NOT NULL,"
    "  deps TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX images_module ON images(platform, function, module_index, version_key);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  ts INTEGER NOT NULL,"
    "  device TEXT,"
    "  update_id INTEGER,"
    "  type TEXT NOT NULL,"
    "  data TEXT NOT NULL);"
    "CREATE INDEX events_device ON events(device, id);"
    "CREATE INDEX events_update ON events(update_id, id) WHERE update_id IS NOT NULL;",
    /* 2: device liveness and wire bytes; updates (at most one active per device). */
    "ALTER TABLE devices ADD COLUMN next_checkin_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE devices ADD COLUMN bytes_tx INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE devices ADD COLUMN bytes_rx INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE updates ("
    "  id INTEGER PRIMARY KEY,"
    "  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  state TEXT NOT NULL,"
    "  wanted TEXT NOT NULL,"
    "  steps TEXT NOT NULL,"
    "  estimate_only INTEGER NOT NULL DEFAULT 0,"
    "  plan_id INTEGER NOT NULL DEFAULT 0,"
    "  step INTEGER NOT NULL DEFAULT 0,"
    "  xfer_offset INTEGER NOT NULL DEFAULT 0,"
    "  done_bytes INTEGER NOT NULL DEFAULT 0,"
    "  total_bytes INTEGER NOT NULL DEFAULT 0,"
    "  wire_estimate INTEGER NOT NULL DEFAULT 0,"
    "  bytes_tx INTEGER NOT NULL DEFAULT 0,"
    "  bytes_rx INTEGER NOT NULL DEFAULT 0,"
    "  result TEXT NOT NULL DEFAULT '',"
    "  why TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL DEFAULT 0,"
    "  updated_at INTEGER NOT NULL,"
    "  finished_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX updates_device ON updates(device_id, id);"
    "CREATE UNIQUE INDEX updates_one_active ON updates(device_id)"
    "  WHERE state NOT IN ('succeeded', 'failed', 'reverted', 'cancelled');",
    /* 3: an update whose device could not apply a compressed or delta transfer. */
    "ALTER TABLE updates ADD COLUMN full_only INTEGER NOT NULL DEFAULT 0;",
    /* 4: fleets (docs/fleets.md): device groups, channels and pins; releases; rollouts and
     * their devices; events and updates that belong to a rollout. */
    "ALTER TABLE devices ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';"
    "ALTER TABLE devices ADD COLUMN channel TEXT NOT NULL DEFAULT 'stable';"
    "ALTER TABLE devices ADD COLUMN pinned TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE releases ("
    "  id INTEGER PRIMARY KEY,"
    "  product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,"
    "  version TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  images TEXT NOT NULL,"
    "  notes TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (product_id, version));"
    "CREATE TABLE rollouts ("
    "  id INTEGER PRIMARY KEY,"
    "  release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,"
    "  target TEXT NOT NULL,"
    "  waves TEXT NOT NULL,"
    "  success_percent INTEGER NOT NULL,"
    "  error_count INTEGER NOT NULL DEFAULT 0,"
    "  error_percent INTEGER NOT NULL DEFAULT 0,"
    "  rate_per_min INTEGER NOT NULL DEFAULT 0,"
    "  budget_bytes_per_day INTEGER NOT NULL DEFAULT 0,"
    "  state TEXT NOT NULL,"
    "  why TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  finished_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE rollout_devices ("
    "  rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,"
    "  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  wave INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  update_id INTEGER,"
    "  started_at INTEGER NOT NULL DEFAULT 0,"
    "  finished_at INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (rollout_id, device_id));"
    "ALTER TABLE updates ADD COLUMN rollout_id INTEGER;"
    "ALTER TABLE events ADD COLUMN rollout_id INTEGER;"
    "CREATE INDEX events_rollout ON events(rollout_id, id) WHERE rollout_id IS NOT NULL;",
    /* 5: store version 2: revisions of updates and rollouts; typed module rows of each
     * device's last inventory (filled from the inventories by C code right after this
     * script, in the same transaction: see backfill_modules); indexes for the device and
     * rollout queries. */
    "ALTER TABLE updates ADD COLUMN rev INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE rollouts ADD COLUMN rev INTEGER NOT NULL DEFAULT 1;"
    "CREATE TABLE device_modules ("
    "  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  function TEXT NOT NULL,"
    "  module_index INTEGER NOT NULL,"
    "  version TEXT NOT NULL,"
    "  version_key TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  PRIMARY KEY (device_id, function, module_index)) WITHOUT ROWID;"
    "CREATE INDEX device_modules_version"
    "  ON device_modules(function, module_index, version_key, version);"
    "CREATE INDEX device_modules_exact ON device_modules(function, module_index, version);"
    "CREATE INDEX devices_product ON devices(product_id, name);"
    "CREATE INDEX rollouts_state ON rollouts(state, id);"
    "CREATE INDEX rollout_devices_state ON rollout_devices(rollout_id, state, wave);"
    "CREATE INDEX rollout_devices_device ON rollout_devices(device_id);",
    /* 6 (issue 12, images): an image is named by its id, the SHA-256 of its whole file, no
     * longer by its payload hash, so one payload may be held in several images (signed
     * again with a higher security counter, or by another key). Existing rows keep their
     * payload hash as their id: their blobs (images/<id>.alim), the releases and updates
     * that name them and the transfers made from them stay valid without a rename. */
    "CREATE TABLE images_v6 ("
    "  id TEXT PRIMARY KEY CHECK (length(id) = 64),"
    "  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),"
    "  function INTEGER NOT NULL,"
    "  module_index INTEGER NOT NULL,"
    "  platform INTEGER NOT NULL,"
    "  version TEXT NOT NULL,"
    "  version_key TEXT NOT NULL,"
    "  security_counter INTEGER NOT NULL,"
    "  link_address INTEGER NOT NULL,"
    "  payload_size INTEGER NOT NULL,"
    "  file_size INTEGER NOT NULL,"
    "  key_id TEXT NOT NULL,"
    "  deps TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO images_v6(id, sha256, function, module_index, platform, version, version_key,"
    "  security_counter, link_address, payload_size, file_size, key_id, deps, created_at)"
    "  SELECT sha256, sha256, function, module_index, platform, version, version_key,"
    "  security_counter, link_address, payload_size, file_size, key_id, deps, created_at"
    "  FROM images;"
    "DROP TABLE images;"
    "ALTER TABLE images_v6 RENAME TO images;"
    "CREATE INDEX images_module ON images(platform, function, module_index, version_key);"
    "CREATE INDEX images_payload ON images(sha256, created_at);",
    /* 7 (issue 12, updates): identities that are never reused. A removed device stays as
     * a tombstone row (removed_at set, its name freed as "NAME~ID", the name it had in
     * removed_name, its PSK identity kept so its DTLS handshake completes and it is told it
     * was removed): no device, update or rollout row is ever deleted, so SQLite's
     * max(rowid) + 1 never hands out an id twice (the triggers make that a rule); events
     * carry the id of their device, so a new device of an old name has none of the old
     * history (backfilled by name: what a name meant before this migration cannot be told);
     * an update records the token name that queued it (queued_by). */
    "ALTER TABLE devices ADD COLUMN removed_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE devices ADD COLUMN removed_name TEXT;"
    "ALTER TABLE updates ADD COLUMN queued_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE events ADD COLUMN device_id INTEGER;"
    "UPDATE events SET device_id = (SELECT d.id FROM devices d WHERE d.name = events.device)"
    "  WHERE device IS NOT NULL;"
    "CREATE INDEX events_device_id ON events(device_id, id) WHERE device_id IS NOT NULL;"
    "CREATE TRIGGER devices_never_deleted BEFORE DELETE ON devices BEGIN"
    "  SELECT RAISE(ABORT, 'devices are removed as tombstones, never deleted: ids are never reused');"
    "END;"
    "CREATE TRIGGER updates_never_deleted BEFORE DELETE ON updates BEGIN"
    "  SELECT RAISE(ABORT, 'updates are history, never deleted: ids are never reused');"
    "END;"
    "CREATE TRIGGER rollouts_never_deleted BEFORE DELETE ON rollouts BEGIN"
    "  SELECT RAISE(ABORT, 'rollouts are history, never deleted: ids are never reused');"
    "END;",
    /* 8 (issue 12, cli): who did what: each event's actor (a token's name, "rollout N",
     * "device", "airliftd"; '' for events recorded before); events by time (the since/until
     * filters); the bytes on the air per device and calendar month (UTC), added where
     * device_seen adds them to the device (GET /v1/usage). No foreign key: a device's usage
     * outlives it, like its events. */
    "ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX events_ts ON events(ts, id);"
    "CREATE TABLE device_usage ("
    "  device_id INTEGER NOT NULL,"
    "  device TEXT NOT NULL,"
    "  month TEXT NOT NULL,"
    "  bytes_tx INTEGER NOT NULL DEFAULT 0,"
    "  bytes_rx INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (device_id, month));"
    "CREATE INDEX device_usage_month ON device_usage(month, device);",
    /* 9 (issue 12, rollouts): a product's rollouts newest first (rollout_list_product: the release
     * a late joiner gets, and the rollouts a new one supersedes). */
    "CREATE INDEX rollouts_release ON rollouts(release_id, id);",
    /* 10 (issue 14, tokens): a token's expiry (NULL: never) and the time it was revoked
     * (NULL: not revoked, or revoked before this column existed), for the 401 that says
     * which ("token 'ci' expired at ...", "... was revoked at ..."). */
    "ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;"
    "ALTER TABLE api_tokens ADD COLUMN revoked_at INTEGER;",
    /* 11 (issue 14, creds): a device's credential kind ('psk', 'x509'; 'rpk' reserved), the
     * SHA-256 of its certificate's SubjectPublicKeyInfo (hex, also its identity) and the
     * certificate's subject; psk is an empty blob for devices without a PSK. disabled: a
     * device whose new handshakes are refused (PATCH {"disabled": true}). */
    "ALTER TABLE devices ADD COLUMN credential TEXT NOT NULL DEFAULT 'psk';"
    "ALTER TABLE devices ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE devices ADD COLUMN subject TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE devices ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;",
};

/* PostgreSQL: the same tables as sqlite_migrations, step for step (BIGINT for INTEGER,
 * BYTEA for BLOB, identity columns for rowids, the C collation on keys that are ordered or
 * compared so that order is bytewise, as in SQLite). Append only. */
static const char *const pg_migrations[] = {

    /* 1: tokens, products (a stub for fleets), devices, images, events. */
    "CREATE TABLE api_tokens ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name TEXT COLLATE \"C\" NOT NULL,"
    "  sha256 BYTEA NOT NULL UNIQUE CHECK (length(sha256) = 32),"
    "  scope TEXT NOT NULL CHECK (scope IN ('read', 'operator', 'admin')),"
    "  created_at BIGINT NOT NULL,"
    "  last_used_at BIGINT,"
    "  revoked BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE products ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  platform BIGINT NOT NULL,"
    "  created_at BIGINT NOT NULL);"
    "CREATE TABLE devices ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  psk_identity TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  psk BYTEA NOT NULL,"
    "  platform BIGINT NOT NULL,"
    "  dev BIGINT NOT NULL DEFAULT 0,"
    "  product_id BIGINT REFERENCES products(id) ON DELETE SET NULL,"
    "  created_at BIGINT NOT NULL,"
    "  last_seen_at BIGINT,"
    "  inventory TEXT,"
    "  reported_at BIGINT);"
    "CREATE TABLE images ("
    "  sha256 TEXT COLLATE \"C\" PRIMARY KEY CHECK (length(sha256) = 64),"
    "  function BIGINT NOT NULL,"
    "  module_index BIGINT NOT NULL,"
    "  platform BIGINT NOT NULL,"
    "  version TEXT COLLATE \"C\" NOT NULL,"
    "  version_key TEXT COLLATE \"C\" NOT NULL,"
    "  security_counter BIGINT NOT NULL,"
    "  link_address BIGINT NOT NULL,"
    "  payload_size BIGINT NOT NULL,"
    "  file_size BIGINT NOT NULL,"
    "  key_id TEXT NOT NULL,"
    "  deps TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX images_module ON images(platform, function, module_index, version_key);"
    "CREATE TABLE events ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  ts BIGINT NOT NULL,"
    "  device TEXT,"
    "  update_id BIGINT,"
    "  type TEXT COLLATE \"C\" NOT NULL,"
    "  data TEXT NOT NULL);"
    "CREATE INDEX events_device ON events(device, id);"
    "CREATE INDEX events_update ON events(update_id, id) WHERE update_id IS NOT NULL;",
    /* 2: device liveness and wire bytes; updates (at most one active per device). */
    "ALTER TABLE devices ADD COLUMN next_checkin_at BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE devices ADD COLUMN bytes_tx BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE devices ADD COLUMN bytes_rx BIGINT NOT NULL DEFAULT 0;"
    "CREATE TABLE updates ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  device_id BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  state TEXT COLLATE \"C\" NOT NULL,"
    "  wanted TEXT NOT NULL,"
    "  steps TEXT NOT NULL,"
    "  estimate_only BIGINT NOT NULL DEFAULT 0,"
    "  plan_id BIGINT NOT NULL DEFAULT 0,"
    "  step BIGINT NOT NULL DEFAULT 0,"
    "  xfer_offset BIGINT NOT NULL DEFAULT 0,"
    "  done_bytes BIGINT NOT NULL DEFAULT 0,"
    "  total_bytes BIGINT NOT NULL DEFAULT 0,"
    "  wire_estimate BIGINT NOT NULL DEFAULT 0,"
    "  bytes_tx BIGINT NOT NULL DEFAULT 0,"
    "  bytes_rx BIGINT NOT NULL DEFAULT 0,"
    "  result TEXT NOT NULL DEFAULT '',"
    "  why TEXT NOT NULL DEFAULT '',"
    "  created_at BIGINT NOT NULL,"
    "  started_at BIGINT NOT NULL DEFAULT 0,"
    "  updated_at BIGINT NOT NULL,"
    "  finished_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX updates_device ON updates(device_id, id);"
    "CREATE UNIQUE INDEX updates_one_active ON updates(device_id)"
    "  WHERE state NOT IN ('succeeded', 'failed', 'reverted', 'cancelled');",
    /* 3: an update whose device could not apply a compressed or delta transfer. */
    "ALTER TABLE updates ADD COLUMN full_only BIGINT NOT NULL DEFAULT 0;",
    /* 4: fleets (docs/fleets.md): device groups, channels and pins; releases; rollouts and
     * their devices; events and updates that belong to a rollout. */
    "ALTER TABLE devices ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';"
    "ALTER TABLE devices ADD COLUMN channel TEXT COLLATE \"C\" NOT NULL DEFAULT 'stable';"
    "ALTER TABLE devices ADD COLUMN pinned TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE releases ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  product_id BIGINT NOT NULL REFERENCES products(id) ON DELETE CASCADE,"
    "  version TEXT COLLATE \"C\" NOT NULL,"
    "  channel TEXT COLLATE \"C\" NOT NULL,"
    "  images TEXT NOT NULL,"
    "  notes TEXT NOT NULL DEFAULT '',"
    "  created_at BIGINT NOT NULL,"
    "  UNIQUE (product_id, version));"
    "CREATE TABLE rollouts ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  release_id BIGINT NOT NULL REFERENCES releases(id) ON DELETE CASCADE,"
    "  target TEXT NOT NULL,"
    "  waves TEXT NOT NULL,"
    "  success_percent BIGINT NOT NULL,"
    "  error_count BIGINT NOT NULL DEFAULT 0,"
    "  error_percent BIGINT NOT NULL DEFAULT 0,"
    "  rate_per_min BIGINT NOT NULL DEFAULT 0,"
    "  budget_bytes_per_day BIGINT NOT NULL DEFAULT 0,"
    "  state TEXT COLLATE \"C\" NOT NULL,"
    "  why TEXT NOT NULL DEFAULT '',"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  finished_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE rollout_devices ("
    "  rollout_id BIGINT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,"
    "  device_id BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  wave BIGINT NOT NULL,"
    "  state TEXT COLLATE \"C\" NOT NULL,"
    "  update_id BIGINT,"
    "  started_at BIGINT NOT NULL DEFAULT 0,"
    "  finished_at BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (rollout_id, device_id));"
    "ALTER TABLE updates ADD COLUMN rollout_id BIGINT;"
    "ALTER TABLE events ADD COLUMN rollout_id BIGINT;"
    "CREATE INDEX events_rollout ON events(rollout_id, id) WHERE rollout_id IS NOT NULL;",
    /* 5: store version 2: revisions of updates and rollouts; typed module rows of each
     * device's last inventory (filled from the inventories by C code right after this
     * script, in the same transaction: see backfill_modules); indexes for the device and
     * rollout queries. */
    "ALTER TABLE updates ADD COLUMN rev BIGINT NOT NULL DEFAULT 1;"
    "ALTER TABLE rollouts ADD COLUMN rev BIGINT NOT NULL DEFAULT 1;"
    "CREATE TABLE device_modules ("
    "  device_id BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  function TEXT COLLATE \"C\" NOT NULL,"
    "  module_index BIGINT NOT NULL,"
    "  version TEXT COLLATE \"C\" NOT NULL,"
    "  version_key TEXT COLLATE \"C\" NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  PRIMARY KEY (device_id, function, module_index));"
    "CREATE INDEX device_modules_version"
    "  ON device_modules(function, module_index, version_key, version);"
    "CREATE INDEX device_modules_exact ON device_modules(function, module_index, version);"
    "CREATE INDEX devices_product ON devices(product_id, name);"
    "CREATE INDEX rollouts_state ON rollouts(state, id);"
    "CREATE INDEX rollout_devices_state ON rollout_devices(rollout_id, state, wave);"
    "CREATE INDEX rollout_devices_device ON rollout_devices(device_id);",
    /* 6 (issue 12, images): images named by id, the SHA-256 of the whole file; existing
     * rows keep their payload hash as their id (see the SQLite migration). */
    "ALTER TABLE images ADD COLUMN id TEXT COLLATE \"C\";"
    "UPDATE images SET id = sha256;"
    "ALTER TABLE images ALTER COLUMN id SET NOT NULL;"
    "ALTER TABLE images DROP CONSTRAINT images_pkey;"
    "ALTER TABLE images ADD PRIMARY KEY (id);"
    "ALTER TABLE images ADD CONSTRAINT images_id_check CHECK (length(id) = 64);"
    "CREATE INDEX images_payload ON images(sha256, created_at);",
    /* 7 (issue 12, updates): as SQLite's 7 (tombstones of removed devices, events by device
     * id, queued_by). Identity columns never hand out a value twice, deleted rows or not. */
    "ALTER TABLE devices ADD COLUMN removed_at BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE devices ADD COLUMN removed_name TEXT;"
    "ALTER TABLE updates ADD COLUMN queued_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE events ADD COLUMN device_id BIGINT;"
    "UPDATE events SET device_id = d.id FROM devices d WHERE d.name = events.device;"
    "CREATE INDEX events_device_id ON events(device_id, id) WHERE device_id IS NOT NULL;",
    /* 8 (issue 12, cli): event actors, events by time, usage per device and month (as in
     * sqlite_migrations). */
    "ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX events_ts ON events(ts, id);"
    "CREATE TABLE device_usage ("
    "  device_id BIGINT NOT NULL,"
    "  device TEXT COLLATE \"C\" NOT NULL,"
    "  month TEXT COLLATE \"C\" NOT NULL,"
    "  bytes_tx BIGINT NOT NULL DEFAULT 0,"
    "  bytes_rx BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (device_id, month));"
    "CREATE INDEX device_usage_month ON device_usage(month, device);",
    /* 9 (issue 12, rollouts): a product's rollouts newest first (rollout_list_product: the release
     * a late joiner gets, and the rollouts a new one supersedes). */
    "CREATE INDEX rollouts_release ON rollouts(release_id, id);",
    /* 10 (issue 14, tokens): as sqlite_migrations. */
    "ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;"
    "ALTER TABLE api_tokens ADD COLUMN revoked_at BIGINT;",
    /* 11 (issue 14, creds): as sqlite_migrations. */
    "ALTER TABLE devices ADD COLUMN credential TEXT NOT NULL DEFAULT 'psk';"
    "ALTER TABLE devices ADD COLUMN fingerprint TEXT COLLATE \"C\" NOT NULL DEFAULT '';"
    "ALTER TABLE devices ADD COLUMN subject TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE devices ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;",
};
#define MIGRATION_COUNT ((int)(sizeof sqlite_migrations / sizeof sqlite_migrations[0]))
_Static_assert(sizeof sqlite_migrations == sizeof pg_migrations,
               "both dialects have the same migrations");
/* The migration after which backfill_modules runs. */
#define MIGRATION_MODULES 5

int ald_store_latest_schema(void)
{
    return MIGRATION_COUNT;
}

/* ---- the pool, handles and operations ---- */

struct conn {
    struct ald_sqldb *db; /* NULL: not connected (yet, or since it broke) */
    bool busy;
    bool lazy; /* its commits are lazy now (see set_lazy); false when it connects */
};

struct pool {
    const struct ald_sql_driver *drv;
    enum dialect dialect;
    char *target;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct ald_store_ops ops; /* sql_ops, with backend = the driver's name */
    size_t n;
    struct conn conns[POOL_MAX];
    /* Claims (PostgreSQL): the session holding them and the keys it holds. */
    pthread_mutex_t claims_lock;
    struct ald_sqldb *claims_db;
    int64_t *held;
    size_t nheld, capheld;
    /* Lazy commits (docs/store.md, "Durability"): when the first one since the last durable
     * commit was made (ms, CLOCK_MONOTONIC), 0 if none; under lock. */
    int64_t lazy_since;
};

/* The store, and a transaction handle: both start with struct ald_store. */
struct sql_store {
    struct ald_store base;
    struct pool *pool;
    struct conn *tx;          /* a transaction handle: the connection it holds */
    enum ald_store_rc spoilt; /* a transaction: the first failure inside it, or OK */
    bool broken;              /* a transaction: its connection reported GONE */
};

/* One running operation. */
struct op {
    struct sql_store *s;
    struct pool *p;
    const struct ald_sql_driver *d;
    struct conn *c;
    struct ald_sqldb *db;
    const char *what;
    bool own_tx;          /* this operation began a transaction of its own */
    bool broken;          /* the connection reported GONE */
    bool lazy;            /* bookkeeping: its commit may be lazy (set_lazy) */
    enum ald_store_rc rc; /* the failure that made a statement helper return NULL */
};

static bool is_pg(const struct op *o)
{
    return o->p->dialect == DIALECT_PG;
}

/* Take a free connection, connecting it if needed; NULL (logged) if that fails. */
static struct conn *borrow(struct pool *p)
{
    struct conn *c = NULL;
    char err[256];
    pthread_mutex_lock(&p->lock);
    for (;;) {
        for (size_t i = 0; i < p->n; i++)
            if (!p->conns[i].busy && (!c || (!c->db && p->conns[i].db)))
                c = &p->conns[i];
        if (c)
            break;
        pthread_cond_wait(&p->freed, &p->lock);
    }
    c->busy = true;
    pthread_mutex_unlock(&p->lock);
    if (!c->db && p->drv->connect(p->target, &c->db, err, sizeof err) != ALD_SQL_OK) {
        ald_log(ALD_LOG_ERROR, "database unreachable", "driver", p->drv->name, "error", err,
                NULL);
        c->db = NULL;
        pthread_mutex_lock(&p->lock);
        c->busy = false;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
        return NULL;
    }
    return c;
}

/* Give c back; a broken connection is closed, to be made again on next use. */
static void give_back(struct pool *p, struct conn *c, bool broken)
{
    if (broken) {
        p->drv->close(c->db);
        c->db = NULL;
        c->lazy = false; /* a new connection starts durable */
    }
    pthread_mutex_lock(&p->lock);
    c->busy = false;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

/* The store code of a failed driver call (r is not OK/ROW/DONE); logs errors. */
static enum ald_store_rc fail(struct op *o, enum ald_sql_rc r)
{
    switch (r) {
    case ALD_SQL_CONSTRAINT:
        return ALD_STORE_EXISTS;
    case ALD_SQL_RETRY:
        return ALD_STORE_RETRY;
    case ALD_SQL_GONE:
        ald_metrics_store_error(); /* issue 15 (ops): airlift_store_errors_total */
        o->broken = true;
        ald_log(ALD_LOG_ERROR, "database connection lost", "op", o->what, "error",
                o->d->errmsg(o->db), NULL);
        return ALD_STORE_UNAVAILABLE;
    default:
        ald_metrics_store_error(); /* issue 15 (ops) */
        ald_log(ALD_LOG_ERROR, "database error", "op", o->what, "error", o->d->errmsg(o->db),
                NULL);
        return ALD_STORE_ERROR;
    }
}

/* Run SQL without rows on the operation's connection. */
static enum ald_store_rc op_exec(struct op *o, const char *sql)
{
    enum ald_sql_rc r = o->d->exec(o->db, sql);
    return r == ALD_SQL_OK || r == ALD_SQL_DONE ? ALD_STORE_OK : fail(o, r);
}

static const char *begin_sql(const struct pool *p, bool user)
{
    if (p->dialect == DIALECT_SQLITE)
        return "BEGIN IMMEDIATE";
    /* Callers' transactions see one snapshot; an operation's own ones need no more than
     * READ COMMITTED (each is a few statements on rows it names). */
    return user ? "BEGIN ISOLATION LEVEL REPEATABLE READ" : "BEGIN";
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Durability (docs/store.md): what a check-in writes (last seen, next check-in, the
 * reported inventory, wire bytes) is renewed by the device's next check-in, so its commits
 * may be lazy: SQLite synchronous = NORMAL (no fsync of the WAL at commit), PostgreSQL
 * synchronous_commit = off. A crash of airliftd loses nothing; a power loss or an OS crash
 * may lose lazy commits made within LAZY_MAX_MS after the last durable commit, never
 * anything else: a durable commit makes every earlier one durable too (one WAL), and once
 * lazy commits have gone on for LAZY_MAX_MS the next one is made durable. Set on the
 * connection outside any transaction (SQLite refuses inside one); connections that are not
 * lazy are durable.
 */
#define LAZY_MAX_MS 1000

static enum ald_store_rc set_lazy(struct op *o, bool lazy)
{
    if (lazy) {
        int64_t now = monotonic_ms();
        pthread_mutex_lock(&o->p->lock);
        if (!o->p->lazy_since) {
            o->p->lazy_since = now;
        } else if (now - o->p->lazy_since >= LAZY_MAX_MS) {
            lazy = false; /* this commit is durable, and with it every one before */
            o->p->lazy_since = 0;
        }
        pthread_mutex_unlock(&o->p->lock);
    }
    if (o->c->lazy == lazy)
        return ALD_STORE_OK;
    enum ald_store_rc rc =
        op_exec(o, is_pg(o) ? (lazy ? "SET synchronous_commit = off" : "SET synchronous_commit = on")
                            : (lazy ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL"));
    if (rc == ALD_STORE_OK)
        o->c->lazy = lazy;
    else
        o->broken = true; /* a connection of unknown durability is not used again */
    return rc;
}

/*
 * Start an operation on st: borrow a connection (or use the transaction's) and, when atomic
 * and not already in a transaction, begin one of its own. Not OK: the operation must return
 * that code at once (nothing to leave).
 */
static enum ald_store_rc enter_as(struct ald_store *st, struct op *o, const char *what,
                                  bool atomic, bool lazy)
{
    memset(o, 0, sizeof *o);
    o->s = (struct sql_store *)st;
    o->p = o->s->pool;
    o->d = o->p->drv;
    o->what = what;
    if (o->s->tx) {
        if (o->s->spoilt != ALD_STORE_OK)
            return o->s->spoilt;
        o->c = o->s->tx;
        o->db = o->c->db;
        return ALD_STORE_OK;
    }
    o->c = borrow(o->p);
    if (!o->c) {
        ald_metrics_store_error(); /* issue 15 (ops) */
        return ALD_STORE_UNAVAILABLE;
    }
    o->db = o->c->db;
    o->lazy = lazy;
    /* A read leaves the connection as it is; a lone write without a transaction of its own
     * is made durable in q(). */
    enum ald_store_rc lrc = lazy || atomic ? set_lazy(o, lazy) : ALD_STORE_OK;
    if (lrc != ALD_STORE_OK) {
        give_back(o->p, o->c, o->broken);
        return lrc;
    }
    if (atomic) {
        enum ald_store_rc rc = op_exec(o, begin_sql(o->p, false));
        if (rc != ALD_STORE_OK) {
            give_back(o->p, o->c, o->broken);
            return rc;
        }
        o->own_tx = true;
    }
    return ALD_STORE_OK;
}

/* An operation that writes only what a check-in renews (see set_lazy). */
static enum ald_store_rc enter_bookkeeping(struct ald_store *st, struct op *o,
                                           const char *what, bool atomic)
{
    return enter_as(st, o, what, atomic, true);
}

static enum ald_store_rc enter(struct ald_store *st, struct op *o, const char *what,
                               bool atomic)
{
    return enter_as(st, o, what, atomic, false);
}

/* A result that came from a failing statement (and spoils a transaction). */
static bool is_failure(enum ald_store_rc rc)
{
    return rc == ALD_STORE_EXISTS || rc == ALD_STORE_RETRY || rc == ALD_STORE_ERROR ||
           rc == ALD_STORE_UNAVAILABLE;
}

/* End an operation started by enter(): commit or roll back its own transaction, note a
 * failure in the caller's, give the connection back. Returns the operation's result. */
static enum ald_store_rc leave(struct op *o, enum ald_store_rc rc)
{
    if (o->own_tx) {
        if (!is_failure(rc)) {
            enum ald_store_rc c = op_exec(o, "COMMIT");
            if (c != ALD_STORE_OK) {
                rc = c;
                if (!o->broken)
                    o->d->exec(o->db, "ROLLBACK");
            }
        } else if (!o->broken) {
            o->d->exec(o->db, "ROLLBACK");
        }
    }
    if (o->s->tx) {
        if (is_failure(rc) && o->s->spoilt == ALD_STORE_OK)
            o->s->spoilt = rc;
        if (o->broken)
            o->s->broken = true;
        return rc;
    }
    give_back(o->p, o->c, o->broken);
    return rc;
}

/*
 * Prepare sql and bind its parameters ?1, ?2, ... in order from fmt: 'i' int64_t, 'u'
 * uint64_t (stored as signed 64-bit), 'n' int64_t with 0 as NULL, 't' text (NULL as NULL),
 * 'e' text with NULL or "" as NULL, 'b' blob (const void *, size_t). NULL on failure, with
 * the code in o->rc.
 */
static struct ald_sqlstmt *q(struct op *o, const char *sql, const char *fmt, ...)
{
    struct ald_sqlstmt *stmt = NULL;
    enum ald_sql_rc r;
    va_list ap;
    /* A write in autocommit on a connection left lazy by bookkeeping: durable first. */
    if (o->c->lazy && !o->lazy && !o->own_tx && !o->s->tx && strncmp(sql, "SELECT", 6) != 0 &&
        (o->rc = set_lazy(o, false)) != ALD_STORE_OK)
        return NULL;
    r = o->d->prepare(o->db, sql, &stmt);
    if (r != ALD_SQL_OK) {
        o->rc = fail(o, r);
        return NULL;
    }
    va_start(ap, fmt);
    for (int i = 1; fmt[i - 1] && r == ALD_SQL_OK; i++) {
        switch (fmt[i - 1]) {
        case 'i':
            r = o->d->bind_int64(stmt, i, va_arg(ap, int64_t));
            break;
        case 'u':
            r = o->d->bind_int64(stmt, i, (int64_t)va_arg(ap, uint64_t));
            break;
        case 'n': {
            int64_t v = va_arg(ap, int64_t);
            r = v ? o->d->bind_int64(stmt, i, v) : o->d->bind_null(stmt, i);
            break;
        }
        case 'e': {
            const char *v = va_arg(ap, const char *);
            r = v && *v ? o->d->bind_text(stmt, i, v) : o->d->bind_null(stmt, i);
            break;
        }
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            r = o->d->bind_blob(stmt, i, p, n);
            break;
        }
        default:
            r = o->d->bind_text(stmt, i, va_arg(ap, const char *));
            break;
        }
    }
    va_end(ap);
    if (r != ALD_SQL_OK) {
        o->rc = fail(o, r);
        o->d->finalize(stmt);
        return NULL;
    }
    return stmt;
}

/* Step stmt to its end (rows are skipped) and finalize it. */
static enum ald_store_rc run(struct op *o, struct ald_sqlstmt *stmt)
{
    enum ald_sql_rc r;
    if (!stmt)
        return o->rc;
    while ((r = o->d->step(stmt)) == ALD_SQL_ROW)
        ;
    o->d->finalize(stmt);
    return r == ALD_SQL_DONE ? ALD_STORE_OK : fail(o, r);
}

/* run() an UPDATE/DELETE by one key: NOT_FOUND if no row changed. */
static enum ald_store_rc run_change1(struct op *o, struct ald_sqlstmt *stmt)
{
    enum ald_store_rc rc = run(o, stmt);
    if (rc == ALD_STORE_OK && o->d->changes(o->db) == 0)
        rc = ALD_STORE_NOT_FOUND;
    return rc;
}

/* Run a statement whose first row's first column is an integer (RETURNING id, count(*),
 * ...): OK with *out, NOT_FOUND if no row. */
static enum ald_store_rc run_int(struct op *o, struct ald_sqlstmt *stmt, int64_t *out)
{
    enum ald_sql_rc r;
    bool got = false;
    if (!stmt)
        return o->rc;
    while ((r = o->d->step(stmt)) == ALD_SQL_ROW)
        if (!got) {
            *out = o->d->column_int64(stmt, 0);
            got = true;
        }
    o->d->finalize(stmt);
    if (r != ALD_SQL_DONE)
        return fail(o, r);
    return got ? ALD_STORE_OK : ALD_STORE_NOT_FOUND;
}

typedef bool (*row_reader)(struct op *o, struct ald_sqlstmt *stmt, void *out);

static enum ald_store_rc misfit(struct op *o)
{
    ald_log(ALD_LOG_ERROR, "database row does not fit its record", "op", o->what, NULL);
    return ALD_STORE_ERROR;
}

/* Read at most one row into out: OK, NOT_FOUND or a failure. */
static enum ald_store_rc run_one(struct op *o, struct ald_sqlstmt *stmt, row_reader read,
                                 void *out)
{
    enum ald_store_rc rc;
    enum ald_sql_rc r;
    if (!stmt)
        return o->rc;
    r = o->d->step(stmt);
    if (r == ALD_SQL_DONE)
        rc = ALD_STORE_NOT_FOUND;
    else if (r != ALD_SQL_ROW)
        rc = fail(o, r);
    else
        rc = read(o, stmt, out) ? ALD_STORE_OK : misfit(o);
    o->d->finalize(stmt);
    return rc;
}

/* Stream the rows of stmt into cb through a heap record of rec_size bytes. */
static enum ald_store_rc run_list(struct op *o, struct ald_sqlstmt *stmt, row_reader read,
                                  size_t rec_size, int (*cb)(void *, const void *), void *ctx)
{
    enum ald_store_rc rc = ALD_STORE_ERROR;
    enum ald_sql_rc r;
    void *rec;
    if (!stmt)
        return o->rc;
    rec = malloc(rec_size);
    if (!rec)
        goto out;
    while ((r = o->d->step(stmt)) == ALD_SQL_ROW) {
        if (!read(o, stmt, rec)) {
            rc = misfit(o);
            goto out;
        }
        if (cb(ctx, rec) != 0)
            break;
    }
    rc = r == ALD_SQL_ROW || r == ALD_SQL_DONE ? ALD_STORE_OK : fail(o, r);
out:
    free(rec);
    o->d->finalize(stmt);
    return rc;
}

/* Copy text column i into out[cap]; false if it would not fit. NULL reads as "". */
static bool col_text(struct op *o, struct ald_sqlstmt *stmt, int i, char *out, size_t cap)
{
    const char *t = o->d->column_text(stmt, i);
    size_t n = strlen(t);
    if (n >= cap)
        return false;
    memcpy(out, t, n + 1);
    return true;
}

static int64_t col_i(struct op *o, struct ald_sqlstmt *stmt, int i)
{
    return o->d->column_int64(stmt, i);
}

/* ---- a query built from the fields of a filter ---- */

#define QB_PARAMS 16

struct qb {
    char sql[3072];
    size_t len;
    int n;
    bool overflow;
    struct {
        char kind; /* 'i' or 't' */
        int64_t i;
        const char *t;
    } params[QB_PARAMS];
};

static void qb_add(struct qb *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > sizeof b->sql) {
        b->overflow = true;
        return;
    }
    memcpy(b->sql + b->len, s, n + 1);
    b->len += n;
}

/* Append the next placeholder, bound to an integer or a text. */
static void qb_param(struct qb *b, char kind, int64_t i, const char *t)
{
    char ph[16];
    if (b->n >= QB_PARAMS) {
        b->overflow = true;
        return;
    }
    b->params[b->n].kind = kind;
    b->params[b->n].i = i;
    b->params[b->n].t = t;
    b->n++;
    snprintf(ph, sizeof ph, "?%d", b->n);
    qb_add(b, ph);
}

static void qb_int(struct qb *b, int64_t v)
{
    qb_param(b, 'i', v, NULL);
}

static void qb_text(struct qb *b, const char *v)
{
    qb_param(b, 't', 0, v);
}

/* Reuse the text placeholder number k (from qb_text) again. */
static void qb_again(struct qb *b, int k)
{
    char ph[16];
    snprintf(ph, sizeof ph, "?%d", k);
    qb_add(b, ph);
}

static struct ald_sqlstmt *qb_prepare(struct op *o, const struct qb *b)
{
    struct ald_sqlstmt *stmt = NULL;
    enum ald_sql_rc r;
    if (b->overflow) {
        ald_log(ALD_LOG_ERROR, "query too long", "op", o->what, NULL);
        o->rc = ALD_STORE_ERROR;
        return NULL;
    }
    r = o->d->prepare(o->db, b->sql, &stmt);
    for (int i = 0; r == ALD_SQL_OK && i < b->n; i++)
        r = b->params[i].kind == 'i' ? o->d->bind_int64(stmt, i + 1, b->params[i].i)
                                     : o->d->bind_text(stmt, i + 1, b->params[i].t);
    if (r != ALD_SQL_OK) {
        o->rc = fail(o, r);
        o->d->finalize(stmt);
        return NULL;
    }
    return stmt;
}

static void qb_limit(struct qb *b, size_t limit)
{
    if (limit) {
        qb_add(b, " LIMIT ");
        qb_int(b, limit > (size_t)NO_LIMIT ? NO_LIMIT : (int64_t)limit);
    }
}

/* ---- migrations ---- */

static enum ald_store_rc read_schema_version(struct op *o, int *out)
{
    int64_t v = 0;
    enum ald_store_rc rc =
        run_int(o, q(o, "SELECT coalesce(max(version), 0) FROM schema_version", ""), &v);
    if (rc == ALD_STORE_OK)
        *out = (int)v;
    return rc;
}

static enum ald_store_rc modules_write(struct op *o, int64_t device_id, const char *inventory);

/*
 * Fill device_modules from the inventories already stored (migration MIGRATION_MODULES):
 * version keys are computed in C, so this cannot be portable SQL. Devices are read in
 * batches by id, so no query is open while the rows are written.
 */
static enum ald_store_rc backfill_modules(struct op *o)
{
    enum { BATCH = 32 };
    int64_t ids[BATCH], after = 0;
    char *inv[BATCH];
    enum ald_store_rc rc = ALD_STORE_OK;
    for (;;) {
        size_t n = 0;
        enum ald_sql_rc r;
        struct ald_sqlstmt *stmt = q(o, "SELECT id, inventory FROM devices WHERE id > ?1 AND "
                                        "inventory IS NOT NULL ORDER BY id LIMIT ?2", "ii",
                                     after, (int64_t)BATCH);
        if (!stmt)
            return o->rc;
        while ((r = o->d->step(stmt)) == ALD_SQL_ROW && n < BATCH) {
            ids[n] = col_i(o, stmt, 0);
            inv[n] = strdup(o->d->column_text(stmt, 1));
            if (!inv[n])
                break;
            n++;
        }
        o->d->finalize(stmt);
        if (r != ALD_SQL_DONE && r != ALD_SQL_ROW)
            rc = fail(o, r);
        else if (r == ALD_SQL_ROW && n < BATCH)
            rc = ALD_STORE_ERROR; /* out of memory */
        for (size_t i = 0; i < n; i++) {
            if (rc == ALD_STORE_OK)
                rc = modules_write(o, ids[i], inv[i]);
            free(inv[i]);
        }
        if (rc != ALD_STORE_OK || n < BATCH)
            return rc;
        after = ids[n - 1];
    }
}

/*
 * Bring the schema up to date on o's connection: each pending migration inside its own
 * transaction (SQLite: IMMEDIATE, so two processes opening at once apply it once; on
 * PostgreSQL the caller holds the migration lock). NEWER_SCHEMA and ERROR set err.
 */
static enum ald_store_open_rc migrate(struct op *o, char *err, size_t errlen)
{
    const char *const *list = is_pg(o) ? pg_migrations : sqlite_migrations;
    int version = 0;
    bool in_tx = false;
    enum ald_store_open_rc rc = ALD_STORE_OPEN_ERROR;

    if (op_exec(o, is_pg(o) ? "CREATE TABLE IF NOT EXISTS schema_version ("
                              "  version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
                            : "CREATE TABLE IF NOT EXISTS schema_version ("
                              "  version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)") !=
        ALD_STORE_OK) {
        snprintf(err, errlen, "cannot create schema_version: %s", o->d->errmsg(o->db));
        goto out;
    }
    for (;;) {
        char vstr[16];
        if (op_exec(o, begin_sql(o->p, false)) != ALD_STORE_OK) {
            snprintf(err, errlen, "cannot begin migration: %s", o->d->errmsg(o->db));
            goto out;
        }
        in_tx = true;
        if (read_schema_version(o, &version) != ALD_STORE_OK) {
            snprintf(err, errlen, "cannot read schema version: %s", o->d->errmsg(o->db));
            goto out;
        }
        if (version > MIGRATION_COUNT) {
            snprintf(err, errlen,
                     "database schema %d is newer than this airliftd knows (%d): upgrade "
                     "airliftd", version, MIGRATION_COUNT);
            rc = ALD_STORE_OPEN_NEWER_SCHEMA;
            goto out;
        }
        if (version == MIGRATION_COUNT)
            break;
        if (op_exec(o, list[version]) != ALD_STORE_OK) {
            snprintf(err, errlen, "migration %d failed: %s", version + 1, o->d->errmsg(o->db));
            goto out;
        }
        if (version + 1 == MIGRATION_MODULES && backfill_modules(o) != ALD_STORE_OK) {
            snprintf(err, errlen, "migration %d: cannot fill device_modules", version + 1);
            goto out;
        }
        if (run(o, q(o, "INSERT INTO schema_version(version, applied_at) VALUES (?1, ?2)",
                     "ii", (int64_t)version + 1, ald_now_ms())) != ALD_STORE_OK ||
            op_exec(o, "COMMIT") != ALD_STORE_OK) {
            snprintf(err, errlen, "migration %d not recorded: %s", version + 1,
                     o->d->errmsg(o->db));
            goto out;
        }
        in_tx = false;
        snprintf(vstr, sizeof vstr, "%d", version + 1);
        ald_log(ALD_LOG_INFO, "schema migrated", "version", vstr, "driver", o->d->name, NULL);
    }
    if (op_exec(o, "COMMIT") != ALD_STORE_OK) {
        snprintf(err, errlen, "cannot commit: %s", o->d->errmsg(o->db));
        goto out;
    }
    in_tx = false;
    rc = ALD_STORE_OPEN_OK;
out:
    if (in_tx)
        o->d->exec(o->db, "ROLLBACK");
    return rc;
}

/* ---- store and transactions ---- */

static void pool_free(struct pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        p->drv->close(p->conns[i].db);
    p->drv->close(p->claims_db);
    free(p->held);
    pthread_mutex_destroy(&p->claims_lock);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p->target);
    free(p);
}

static void op_close(struct ald_store *st)
{
    struct sql_store *s = (struct sql_store *)st;
    if (!s)
        return;
    pool_free(s->pool);
    free(s);
}

static enum ald_store_rc op_schema_version(struct ald_store *st, int *out)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "schema_version", false);
    if (rc != ALD_STORE_OK)
        return rc;
    return leave(&o, read_schema_version(&o, out));
}

static enum ald_store_rc begin_as(struct ald_store *st, struct ald_store **out, bool lazy)
{
    struct sql_store *s = (struct sql_store *)st, *tx;
    struct op o;
    enum ald_store_rc rc;
    *out = NULL;
    if (s->tx) {
        ald_log(ALD_LOG_ERROR, "a transaction cannot begin inside another", NULL);
        return ALD_STORE_ERROR;
    }
    tx = calloc(1, sizeof *tx);
    if (!tx)
        return ALD_STORE_ERROR;
    rc = enter_as(st, &o, "begin", false, lazy);
    if (rc != ALD_STORE_OK) {
        free(tx);
        return rc;
    }
    if (!lazy && o.c->lazy && (rc = set_lazy(&o, false)) != ALD_STORE_OK) {
        free(tx);
        return leave(&o, rc);
    }
    rc = op_exec(&o, begin_sql(o.p, true));
    if (rc != ALD_STORE_OK) {
        free(tx);
        return leave(&o, rc);
    }
    tx->base.ops = &s->pool->ops;
    tx->pool = s->pool;
    tx->tx = o.c;
    *out = &tx->base;
    return ALD_STORE_OK;
}

static enum ald_store_rc op_begin(struct ald_store *st, struct ald_store **out)
{
    return begin_as(st, out, false);
}

static enum ald_store_rc op_begin_bookkeeping(struct ald_store *st, struct ald_store **out)
{
    return begin_as(st, out, true);
}

/* End the transaction tx with COMMIT (commit == true) or ROLLBACK and free it. */
static enum ald_store_rc tx_end(struct ald_store *st, bool commit)
{
    struct sql_store *tx = (struct sql_store *)st;
    struct op o;
    enum ald_store_rc rc = ALD_STORE_OK;
    if (!tx || !tx->tx)
        return ALD_STORE_ERROR;
    memset(&o, 0, sizeof o);
    o.s = tx;
    o.p = tx->pool;
    o.d = o.p->drv;
    o.c = tx->tx;
    o.db = o.c->db;
    o.what = commit ? "commit" : "rollback";
    o.broken = tx->broken;
    if (commit && tx->spoilt != ALD_STORE_OK)
        rc = tx->spoilt;
    else if (commit && !o.broken)
        rc = op_exec(&o, "COMMIT");
    else if (o.broken)
        rc = ALD_STORE_UNAVAILABLE;
    if (!o.broken && (!commit || rc != ALD_STORE_OK)) {
        enum ald_store_rc rb = op_exec(&o, "ROLLBACK");
        if (!commit)
            rc = rb;
    }
    give_back(o.p, o.c, o.broken);
    free(tx);
    return rc;
}

static enum ald_store_rc op_commit(struct ald_store *tx)
{
    return tx_end(tx, true);
}

static enum ald_store_rc op_rollback(struct ald_store *tx)
{
    return tx_end(tx, false);
}

/* ---- tokens ---- */

#define TOKEN_COLS                                                                          \
    "id, name, sha256, scope, created_at, coalesce(last_used_at, 0), revoked, "               \
    "coalesce(expires_at, 0), coalesce(revoked_at, 0)"

static bool read_token(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_token_rec *t = out;
    char scope[16];
    size_t n = 0;
    const void *hash = o->d->column_blob(stmt, 2, &n);
    memset(t, 0, sizeof *t);
    t->id = col_i(o, stmt, 0);
    if (!col_text(o, stmt, 1, t->name, sizeof t->name) || n != 32)
        return false;
    memcpy(t->sha256, hash, 32);
    if (!col_text(o, stmt, 3, scope, sizeof scope))
        return false;
    t->scope = ald_scope_parse(scope);
    t->created_at = col_i(o, stmt, 4);
    t->last_used_at = col_i(o, stmt, 5);
    t->revoked = col_i(o, stmt, 6) != 0;
    t->expires_at = col_i(o, stmt, 7);
    t->revoked_at = col_i(o, stmt, 8);
    return t->scope != 0;
}

static enum ald_store_rc op_token_create(struct ald_store *st, struct ald_token_rec *rec)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "token_create", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rec->created_at = ald_now_ms();
    rc = run_int(&o, q(&o, "INSERT INTO api_tokens(name, sha256, scope, created_at, "
                           "expires_at) VALUES (?1, ?2, ?3, ?4, nullif(CAST(?5 AS BIGINT), 0)) RETURNING id",
                       "tbtii", rec->name, (const void *)rec->sha256, (size_t)32,
                       ald_scope_name(rec->scope), rec->created_at, rec->expires_at),
                 &rec->id);
    return leave(&o, rc);
}

static enum ald_store_rc op_token_by_hash(struct ald_store *st, const uint8_t sha256[32],
                                          struct ald_token_rec *out)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "token_by_hash", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_one(&o, q(&o, "SELECT " TOKEN_COLS " FROM api_tokens WHERE sha256 = ?1", "b",
                       (const void *)sha256, (size_t)32), read_token, out);
    return leave(&o, rc);
}

static enum ald_store_rc op_token_get(struct ald_store *st, int64_t id, struct ald_token_rec *out)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "token_get", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_one(&o, q(&o, "SELECT " TOKEN_COLS " FROM api_tokens WHERE id = ?1", "i", id),
                 read_token, out);
    return leave(&o, rc);
}

static enum ald_store_rc op_token_touch(struct ald_store *st, int64_t id, int64_t now)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "token_touch", false);
    if (rc != ALD_STORE_OK)
        return rc;
    /* At most one write a minute per token: reads must not turn into a write storm. */
    rc = run(&o, q(&o, "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2 AND "
                       "(last_used_at IS NULL OR last_used_at < CAST(?1 AS BIGINT) - 60000)",
                   "ii", now, id));
    return leave(&o, rc);
}

static enum ald_store_rc op_token_revoke(struct ald_store *st, int64_t id)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "token_revoke", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_change1(&o, q(&o, "UPDATE api_tokens SET revoked = 1, revoked_at = ?2 "
                               "WHERE id = ?1", "ii", id, ald_now_ms()));
    return leave(&o, rc);
}

static enum ald_store_rc op_token_list(struct ald_store *st, ald_token_cb cb, void *ctx)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "token_list", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_list(&o, q(&o, "SELECT " TOKEN_COLS " FROM api_tokens ORDER BY id", ""), read_token,
                  sizeof(struct ald_token_rec), (int (*)(void *, const void *))cb, ctx);
    return leave(&o, rc);
}

/* ---- devices ---- */

#define DEVICE_COLS                                                                            \
    "id, name, psk_identity, psk, platform, dev, coalesce(product_id, 0), created_at, "       \
    "coalesce(last_seen_at, 0), coalesce(inventory, ''), coalesce(reported_at, 0), "          \
    "next_checkin_at, bytes_tx, bytes_rx, groups, channel, pinned, removed_at, "              \
    "credential, fingerprint, subject, disabled" /* issue 14 (creds) */

static bool read_device(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_device_rec *d = out;
    size_t psk_len = 0;
    const void *psk = o->d->column_blob(stmt, 3, &psk_len);
    memset(d, 0, sizeof *d);
    d->id = col_i(o, stmt, 0);
    /* issue 14 (creds): only PSK devices have a PSK */
    if (!col_text(o, stmt, 18, d->credential, sizeof d->credential) ||
        !col_text(o, stmt, 19, d->fingerprint, sizeof d->fingerprint) ||
        !col_text(o, stmt, 20, d->subject, sizeof d->subject))
        return false;
    d->disabled = col_i(o, stmt, 21) != 0;
    if ((psk_len == 0 && !strcmp(d->credential, "psk")) || psk_len > ALD_PSK_MAX_LEN)
        return false;
    if (psk_len)
        memcpy(d->psk, psk, psk_len);
    d->psk_len = psk_len;
    if (!col_text(o, stmt, 1, d->name, sizeof d->name) ||
        !col_text(o, stmt, 2, d->identity, sizeof d->identity) ||
        !col_text(o, stmt, 9, d->inventory, sizeof d->inventory) ||
        !col_text(o, stmt, 14, d->groups_json, sizeof d->groups_json) ||
        !col_text(o, stmt, 15, d->channel, sizeof d->channel) ||
        !col_text(o, stmt, 16, d->pinned, sizeof d->pinned))
        return false;
    d->platform = (uint16_t)col_i(o, stmt, 4);
    d->dev = col_i(o, stmt, 5) != 0;
    d->product_id = col_i(o, stmt, 6);
    d->created_at = col_i(o, stmt, 7);
    d->last_seen_at = col_i(o, stmt, 8);
    d->reported_at = col_i(o, stmt, 10);
    d->next_checkin_at = col_i(o, stmt, 11);
    d->bytes_tx = (uint64_t)col_i(o, stmt, 12);
    d->bytes_rx = (uint64_t)col_i(o, stmt, 13);
    d->removed_at = col_i(o, stmt, 17);
    return true;
}

static enum ald_store_rc op_device_create(struct ald_store *st, struct ald_device_rec *rec)
{
    struct op o;
    enum ald_store_rc rc;
    bool psk = !rec->credential[0] || !strcmp(rec->credential, "psk"); /* issue 14 (creds) */
    if ((psk && rec->psk_len == 0) || (!psk && rec->psk_len) || rec->psk_len > ALD_PSK_MAX_LEN)
        return ALD_STORE_ERROR;
    rc = enter(st, &o, "device_create", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rec->created_at = ald_now_ms();
    rc = run_int(&o, q(&o, "INSERT INTO devices(name, psk_identity, psk, platform, dev, "
                           "product_id, created_at, credential, fingerprint, subject) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                           "RETURNING id", "ttbiinittt", rec->name, rec->identity,
                       (const void *)rec->psk, rec->psk_len, (int64_t)rec->platform,
                       (int64_t)(rec->dev ? 1 : 0), rec->product_id, rec->created_at,
                       psk ? "psk" : rec->credential, rec->fingerprint, rec->subject),
                 &rec->id);
    return leave(&o, rc);
}

static enum ald_store_rc device_by(struct ald_store *st, const char *sql, const char *key,
                                   struct ald_device_rec *out)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "device_get", false);
    if (rc != ALD_STORE_OK)
        return rc;
    return leave(&o, run_one(&o, q(&o, sql, "t", key), read_device, out));
}

static enum ald_store_rc op_device_get(struct ald_store *st, const char *name,
                                       struct ald_device_rec *out)
{
    return device_by(st, "SELECT " DEVICE_COLS " FROM devices WHERE name = ?1 AND "
                         "removed_at = 0", name, out);
}

static enum ald_store_rc op_device_by_identity(struct ald_store *st, const char *identity,
                                               struct ald_device_rec *out)
{
    return device_by(st, "SELECT " DEVICE_COLS " FROM devices WHERE psk_identity = ?1",
                     identity, out);
}

/* The function name of a module as the inventory spells it, if one we know. */
static bool module_function_known(const char *fn)
{
    static const char *const names[] = {"bootloader", "system", "application", "radio"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(fn, names[i]))
            return true;
    return false;
}

/*
 * Write device_modules rows for the "modules" of an inventory (the JSON of inventory_json()
 * in updates.c). Modules that are not well formed are skipped; text that is not JSON
 * writes nothing. The caller has deleted the device's old rows.
 */
static enum ald_store_rc modules_write(struct op *o, int64_t device_id, const char *inventory)
{
    json_t *root = json_loads(inventory, 0, NULL), *arr, *m;
    enum ald_store_rc rc = ALD_STORE_OK;
    size_t i;
    arr = root ? json_object_get(root, "modules") : NULL;
    json_array_foreach(arr, i, m) {
        const char *fn = json_string_value(json_object_get(m, "function"));
        const char *ver = json_string_value(json_object_get(m, "version"));
        const char *sha = json_string_value(json_object_get(m, "sha256"));
        json_t *idx = json_object_get(m, "index");
        struct al_version v;
        char key[ALD_VERSION_KEY_MAX + 1];
        if (!fn || !ver || !sha || !json_is_integer(idx) || !module_function_known(fn) ||
            json_integer_value(idx) < 0 || json_integer_value(idx) > 255 ||
            strlen(ver) > ALD_VERSION_MAX || strlen(sha) != ALD_SHA256_HEX ||
            al_version_parse(ver, strlen(ver), &v) != AL_OK ||
            !ald_version_sort_key(&v, key, sizeof key))
            continue;
        rc = run(o, q(o, "INSERT INTO device_modules(device_id, function, module_index, "
                         "version, version_key, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                         "ON CONFLICT (device_id, function, module_index) DO NOTHING",
                      "ititt" "t", device_id, fn, (int64_t)json_integer_value(idx), ver, key,
                      sha));
        if (rc != ALD_STORE_OK)
            break;
    }
    json_decref(root);
    return rc;
}

static bool read_two_ints(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    int64_t *v = out;
    v[0] = o->d->column_int64(stmt, 0);
    v[1] = o->d->column_int64(stmt, 1);
    return true;
}

static enum ald_store_rc op_device_report(struct ald_store *st, const char *name,
                                          const char *inventory_json, int64_t now,
                                          int64_t next_checkin_at)
{
    struct op o;
    int64_t id = 0;
    enum ald_store_rc rc;
    if (strlen(inventory_json) >= ALD_INVENTORY_MAX)
        return ALD_STORE_ERROR;
    /* issue 11 (checkin): the usual check-in reports what the device ran last time, and is
     * one statement (atomic by itself: one round trip, no BEGIN and COMMIT); only a changed
     * inventory takes the transaction below. */
    rc = enter_bookkeeping(st, &o, "device_report", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_change1(&o, next_checkin_at >= 0
                             ? q(&o, "UPDATE devices SET reported_at = ?1, last_seen_at = ?1, "
                                     "next_checkin_at = ?2 WHERE name = ?3 AND inventory = ?4",
                                 "iitt", now, next_checkin_at, name, inventory_json)
                             : q(&o, "UPDATE devices SET reported_at = ?1, last_seen_at = ?1 "
                                     "WHERE name = ?2 AND inventory = ?3",
                                 "itt", now, name, inventory_json));
    if (rc != ALD_STORE_NOT_FOUND)
        return leave(&o, rc);
    leave(&o, ALD_STORE_OK);
    rc = enter_bookkeeping(st, &o, "device_report", true);
    if (rc != ALD_STORE_OK)
        return rc;
    int64_t row[2] = {0, 0}; /* the device's id; 1 if it reports what it reported last */
    /* The usual check-in reports what the device ran last time: its module rows stay. */
    rc = run_one(&o, q(&o, "SELECT id, CASE WHEN inventory = ?2 THEN 1 ELSE 0 END "
                           "FROM devices WHERE name = ?1", "tt", name, inventory_json),
                 read_two_ints, row);
    id = row[0];
    int64_t same = row[1];
    if (rc == ALD_STORE_OK)
        rc = run(&o, same ? q(&o, "UPDATE devices SET reported_at = ?1, last_seen_at = ?1 "
                                  "WHERE id = ?2", "ii", now, id)
                          : q(&o, "UPDATE devices SET inventory = ?1, reported_at = ?2, "
                                  "last_seen_at = ?2 WHERE id = ?3", "tii", inventory_json, now,
                              id));
    if (rc == ALD_STORE_OK && !same)
        rc = run(&o, q(&o, "DELETE FROM device_modules WHERE device_id = ?1", "i", id));
    if (rc == ALD_STORE_OK && !same)
        rc = modules_write(&o, id, inventory_json);
    if (rc == ALD_STORE_OK && next_checkin_at >= 0)
        rc = run(&o, q(&o, "UPDATE devices SET next_checkin_at = ?1 WHERE id = ?2", "ii",
                       next_checkin_at, id));
    return leave(&o, rc);
}

/* Removal leaves a tombstone (migration 6): the row keeps its id, PSK identity and key, and
 * frees its name as "NAME~ID" ('~' is in no valid name); its module rows and rollout rows
 * go, its updates stay (history; ids never reused). */
static enum ald_store_rc op_device_delete(struct ald_store *st, const char *name)
{
    struct op o;
    int64_t id = 0;
    enum ald_store_rc rc = enter(st, &o, "device_delete", true);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_int(&o, q(&o, "SELECT id FROM devices WHERE name = ?1 AND removed_at = 0", "t",
                       name), &id);
    if (rc == ALD_STORE_OK)
        rc = run_change1(&o, q(&o, "UPDATE devices SET removed_at = ?1, removed_name = name, "
                                   "name = name || '~' || CAST(id AS TEXT) WHERE id = ?2", "ii",
                               ald_now_ms(), id));
    if (rc == ALD_STORE_OK)
        rc = run(&o, q(&o, "DELETE FROM device_modules WHERE device_id = ?1", "i", id));
    if (rc == ALD_STORE_OK)
        rc = run(&o, q(&o, "DELETE FROM rollout_devices WHERE device_id = ?1", "i", id));
    return leave(&o, rc);
}

static enum ald_store_rc op_device_list(struct ald_store *st, ald_device_cb cb, void *ctx)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "device_list", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_list(&o, q(&o, "SELECT " DEVICE_COLS " FROM devices WHERE removed_at = 0 "
                            "ORDER BY name", ""),
                  read_device, sizeof(struct ald_device_rec),
                  (int (*)(void *, const void *))cb, ctx);
    return leave(&o, rc);
}

/* ---- images ---- */

#define IMAGE_COLS                                                                             \
    "id, sha256, function, module_index, platform, version, version_key, security_counter, "  \
    "link_address, payload_size, file_size, key_id, deps, created_at"

static bool read_image(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_image_rec *m = out;
    memset(m, 0, sizeof *m);
    if (!col_text(o, stmt, 0, m->id, sizeof m->id) ||
        !col_text(o, stmt, 1, m->sha256, sizeof m->sha256) ||
        !col_text(o, stmt, 5, m->version, sizeof m->version) ||
        !col_text(o, stmt, 6, m->version_key, sizeof m->version_key) ||
        !col_text(o, stmt, 11, m->key_id, sizeof m->key_id) ||
        !col_text(o, stmt, 12, m->deps_json, sizeof m->deps_json))
        return false;
    m->function = (uint8_t)col_i(o, stmt, 2);
    m->index = (uint8_t)col_i(o, stmt, 3);
    m->platform = (uint16_t)col_i(o, stmt, 4);
    m->security_counter = (uint32_t)col_i(o, stmt, 7);
    m->link_address = (uint32_t)col_i(o, stmt, 8);
    m->payload_size = (uint32_t)col_i(o, stmt, 9);
    m->file_size = (uint64_t)col_i(o, stmt, 10);
    m->created_at = col_i(o, stmt, 13);
    return true;
}

static enum ald_store_rc op_image_put(struct ald_store *st, struct ald_image_rec *rec)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "image_put", false);
    if (rc != ALD_STORE_OK)
        return rc;
    if (!rec->created_at)
        rec->created_at = ald_now_ms();
    rc = run(&o, q(&o, "INSERT INTO images(" IMAGE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                       "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)", "ttiiittiiiutti", rec->id,
                   rec->sha256,
                   (int64_t)rec->function, (int64_t)rec->index, (int64_t)rec->platform,
                   rec->version, rec->version_key, (int64_t)rec->security_counter,
                   (int64_t)rec->link_address, (int64_t)rec->payload_size, rec->file_size,
                   rec->key_id, rec->deps_json, rec->created_at));
    return leave(&o, rc);
}

static enum ald_store_rc op_image_get(struct ald_store *st, const char *sha256,
                                      struct ald_image_rec *out)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "image_get", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_one(&o, q(&o, "SELECT " IMAGE_COLS " FROM images WHERE sha256 = ?1 "
                            "ORDER BY created_at, id LIMIT 1", "t", sha256),
                 read_image, out);
    return leave(&o, rc);
}

static enum ald_store_rc op_image_list(struct ald_store *st, ald_image_cb cb, void *ctx)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "image_list", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_list(&o, q(&o, "SELECT " IMAGE_COLS " FROM images ORDER BY platform, function, "
                            "module_index, version_key, sha256, id", ""),
                  read_image, sizeof(struct ald_image_rec), (int (*)(void *, const void *))cb,
                  ctx);
    return leave(&o, rc);
}

/* ---- events ---- */

#define EVENT_COLS "id, ts, coalesce(device, ''), coalesce(update_id, 0), type, data, " \
                   "coalesce(rollout_id, 0), coalesce(device_id, 0), actor"

static bool read_event(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_event_rec *e = out;
    memset(e, 0, sizeof *e);
    e->id = col_i(o, stmt, 0);
    e->ts = col_i(o, stmt, 1);
    e->update_id = col_i(o, stmt, 3);
    e->rollout_id = col_i(o, stmt, 6);
    e->device_id = col_i(o, stmt, 7);
    return col_text(o, stmt, 2, e->device, sizeof e->device) &&
           col_text(o, stmt, 4, e->type, sizeof e->type) &&
           col_text(o, stmt, 5, e->data, sizeof e->data) &&
           col_text(o, stmt, 8, e->actor, sizeof e->actor);
}

/*
 * Event ids must become visible in increasing order (event_list's after_id, the live
 * stream). On PostgreSQL an identity value is taken at INSERT but seen by others at COMMIT,
 * so two writers could commit ids 8 and 7 in that order and a reader that saw 8 would never
 * see 7. Hence every append first takes one transaction-scoped advisory lock: appending
 * transactions commit one at a time, in id order. SQLite has one writer at a time anyway.
 */
static enum ald_store_rc op_event_append(struct ald_store *st, struct ald_event_rec *rec)
{
    struct op o;
    enum ald_store_rc rc =
        enter(st, &o, "event_append", ((struct sql_store *)st)->pool->dialect == DIALECT_PG);
    if (rc != ALD_STORE_OK)
        return rc;
    if (!rec->ts)
        rec->ts = ald_now_ms();
    if (is_pg(&o))
        rc = run(&o, q(&o, "SELECT pg_advisory_xact_lock(CAST(?1 AS BIGINT))", "i",
                       EVENT_LOCK_KEY));
    if (rc == ALD_STORE_OK)
        rc = run_int(&o, q(&o, "INSERT INTO events(ts, device, update_id, type, data, "
                               "rollout_id, device_id, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                               "coalesce(CAST(?7 AS BIGINT), (SELECT id FROM devices WHERE "
                               "name = ?2 AND removed_at = 0)), ?8) RETURNING id",
                           "ienttnnt", rec->ts, rec->device, rec->update_id, rec->type,
                           rec->data[0] ? rec->data : "{}", rec->rollout_id, rec->device_id,
                           rec->actor),
                     &rec->id);
    if (rc == ALD_STORE_OK && is_pg(&o)) {
        char id[24];
        enum ald_sql_rc r;
        snprintf(id, sizeof id, "%" PRId64, rec->id);
        r = o.d->notify(o.db, EVENTS_CHANNEL, id);
        if (r != ALD_SQL_OK && r != ALD_SQL_DONE)
            rc = fail(&o, r);
    }
    return leave(&o, rc);
}

static enum ald_store_rc op_event_list(struct ald_store *st, const struct ald_event_filter *f,
                                       ald_event_cb cb, void *ctx)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "event_list", false);
    if (rc != ALD_STORE_OK)
        return rc;
    /* The prefix compares bytes (substr), not LIKE: no wildcards, case-sensitive. */
    /* The same statement both ways; only the order differs (newest: the newest first). */
#define EVENT_WHERE "SELECT " EVENT_COLS " FROM events WHERE id > ?1 "                          \
                    "AND (CAST(?2 AS TEXT) IS NULL OR device_id = (SELECT d.id FROM "          \
                    "     devices d WHERE d.name = ?2 AND d.removed_at = 0) "                  \
                    "     OR (device_id IS NULL AND device = ?2)) "                            \
                    "AND (CAST(?10 AS BIGINT) IS NULL OR device_id = ?10) "                    \
                    "AND (CAST(?4 AS BIGINT) IS NULL OR update_id = ?4) "                      \
                    "AND (CAST(?5 AS BIGINT) IS NULL OR rollout_id = ?5) "                     \
                    "AND (CAST(?6 AS TEXT) IS NULL OR "                                        \
                    "     substr(type, 1, length(CAST(?6 AS TEXT))) = ?6) "                    \
                    "AND (CAST(?7 AS BIGINT) IS NULL OR ts >= ?7) "                            \
                    "AND (CAST(?8 AS BIGINT) IS NULL OR ts < ?8) "                             \
                    "AND (CAST(?9 AS BIGINT) IS NULL OR id < ?9) "
    rc = run_list(&o, q(&o, f->newest ? EVENT_WHERE "ORDER BY id DESC LIMIT ?3"
                                      : EVENT_WHERE "ORDER BY id LIMIT ?3",
                        "itinnennnn", f->after_id, f->device,
                        f->limit ? (int64_t)f->limit : NO_LIMIT, f->update_id, f->rollout_id,
                        f->type_prefix, f->since_ms, f->until_ms, f->before_id, f->device_id),
#undef EVENT_WHERE
                  read_event, sizeof(struct ald_event_rec), (int (*)(void *, const void *))cb,
                  ctx);
    return leave(&o, rc);
}

static enum ald_store_rc op_event_last_id(struct ald_store *st, int64_t *out)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "event_last_id", false);
    if (rc != ALD_STORE_OK)
        return rc;
    return leave(&o, run_int(&o, q(&o, "SELECT coalesce(max(id), 0) FROM events", ""), out));
}

/* ---- device liveness, updates ---- */

static enum ald_store_rc op_device_seen(struct ald_store *st, int64_t device_id, int64_t now,
                                        uint64_t tx, uint64_t rx, int64_t update_id)
{
    struct op o;
    bool both = update_id && (tx || rx);
    char month[8];
    /* issue 11 (checkin): on PostgreSQL the three writes are one statement (atomic by
     * itself): one round trip instead of five (BEGIN, three statements, COMMIT), twice per
     * check-in. */
    bool one = (tx || rx) && ((struct sql_store *)st)->pool->dialect == DIALECT_PG;
    enum ald_store_rc rc = enter_bookkeeping(st, &o, "device_seen", (tx || rx) && !one);
    if (rc != ALD_STORE_OK)
        return rc;
    if (one) {
        ald_usage_month(now, month);
        return leave(&o, run_change1(&o, q(&o,
            "WITH d AS (UPDATE devices SET last_seen_at = ?1, bytes_tx = bytes_tx + ?2, "
            "bytes_rx = bytes_rx + ?3 WHERE id = ?4 RETURNING id, name), "
            "u AS (UPDATE updates SET bytes_tx = bytes_tx + ?2, bytes_rx = bytes_rx + ?3 "
            "WHERE id = ?6 AND EXISTS (SELECT 1 FROM d)) "
            "INSERT INTO device_usage(device_id, device, month, bytes_tx, bytes_rx) "
            "SELECT id, name, CAST(?5 AS TEXT), CAST(?2 AS BIGINT), CAST(?3 AS BIGINT) FROM d "
            "ON CONFLICT (device_id, month) DO UPDATE SET "
            "bytes_tx = device_usage.bytes_tx + excluded.bytes_tx, "
            "bytes_rx = device_usage.bytes_rx + excluded.bytes_rx",
            "iuuiti", now, tx, rx, device_id, month, both ? update_id : INT64_C(0))));
    }
    rc = run_change1(&o, q(&o, "UPDATE devices SET last_seen_at = ?1, bytes_tx = bytes_tx + ?2, "
                               "bytes_rx = bytes_rx + ?3 WHERE id = ?4", "iuui", now, tx, rx,
                           device_id));
    /* The same bytes in the device's month (UTC), for GET /v1/usage. */
    if (rc == ALD_STORE_OK && (tx || rx)) {
        ald_usage_month(now, month);
        rc = run(&o, q(&o, "INSERT INTO device_usage(device_id, device, month, bytes_tx, "
                           "bytes_rx) SELECT id, name, CAST(?2 AS TEXT), CAST(?3 AS BIGINT), "
                           "CAST(?4 AS BIGINT) FROM devices WHERE id = ?1 "
                           "ON CONFLICT (device_id, month) DO UPDATE SET "
                           "bytes_tx = device_usage.bytes_tx + excluded.bytes_tx, "
                           "bytes_rx = device_usage.bytes_rx + excluded.bytes_rx",
                       "ituu", device_id, month, tx, rx));
    }
    if (rc == ALD_STORE_OK && both)
        rc = run(&o, q(&o, "UPDATE updates SET bytes_tx = bytes_tx + ?1, "
                           "bytes_rx = bytes_rx + ?2 WHERE id = ?3", "uui", tx, rx, update_id));
    return leave(&o, rc);
}

static enum ald_store_rc op_device_checkin(struct ald_store *st, int64_t device_id,
                                           int64_t next_checkin_at)
{
    struct op o;
    enum ald_store_rc rc = enter_bookkeeping(st, &o, "device_checkin", false);
    if (rc != ALD_STORE_OK)
        return rc;
    return leave(&o, run_change1(&o, q(&o, "UPDATE devices SET next_checkin_at = ?1 "
                                           "WHERE id = ?2", "ii", next_checkin_at, device_id)));
}

#define UPDATE_COLS                                                                            \
    "u.id, u.device_id, coalesce(d.removed_name, d.name), u.state, u.wanted, u.steps, u.estimate_only, u.plan_id, "      \
    "u.step, u.xfer_offset, u.done_bytes, u.total_bytes, u.wire_estimate, u.bytes_tx, "        \
    "u.bytes_rx, u.result, u.why, u.created_at, u.started_at, u.updated_at, u.finished_at, "   \
    "u.full_only, coalesce(u.rollout_id, 0), u.rev, u.queued_by "                             \
    "FROM updates u JOIN devices d ON d.id = u.device_id"
#define UPDATE_FINAL "('succeeded', 'failed', 'reverted', 'cancelled')"

static bool read_update(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_update_rec *u = out;
    memset(u, 0, sizeof *u);
    u->id = col_i(o, stmt, 0);
    u->device_id = col_i(o, stmt, 1);
    if (!col_text(o, stmt, 2, u->device, sizeof u->device) ||
        !col_text(o, stmt, 3, u->state, sizeof u->state) ||
        !col_text(o, stmt, 4, u->wanted_json, sizeof u->wanted_json) ||
        !col_text(o, stmt, 5, u->steps_json, sizeof u->steps_json) ||
        !col_text(o, stmt, 15, u->result, sizeof u->result) ||
        !col_text(o, stmt, 16, u->why, sizeof u->why))
        return false;
    u->estimate_only = col_i(o, stmt, 6) != 0;
    u->plan_id = (uint32_t)col_i(o, stmt, 7);
    u->step = (uint32_t)col_i(o, stmt, 8);
    u->offset = (uint32_t)col_i(o, stmt, 9);
    u->done_bytes = (uint64_t)col_i(o, stmt, 10);
    u->total_bytes = (uint64_t)col_i(o, stmt, 11);
    u->wire_estimate = (uint64_t)col_i(o, stmt, 12);
    u->bytes_tx = (uint64_t)col_i(o, stmt, 13);
    u->bytes_rx = (uint64_t)col_i(o, stmt, 14);
    u->created_at = col_i(o, stmt, 17);
    u->started_at = col_i(o, stmt, 18);
    u->updated_at = col_i(o, stmt, 19);
    u->finished_at = col_i(o, stmt, 20);
    u->full_only = col_i(o, stmt, 21) != 0;
    u->rollout_id = col_i(o, stmt, 22);
    u->rev = col_i(o, stmt, 23);
    return col_text(o, stmt, 24, u->queued_by, sizeof u->queued_by);
}

static enum ald_store_rc op_update_create(struct ald_store *st, struct ald_update_rec *rec)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "update_create", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rec->created_at = rec->updated_at = ald_now_ms();
    rc = run_int(&o, q(&o, "INSERT INTO updates(device_id, state, wanted, steps, estimate_only, "
                           "total_bytes, wire_estimate, created_at, updated_at, rollout_id, rev, "
                           "queued_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11) "
                           "RETURNING id",
                       "itttiuuiint", rec->device_id, rec->state, rec->wanted_json,
                       rec->steps_json, (int64_t)rec->estimate_only, rec->total_bytes,
                       rec->wire_estimate, rec->created_at, rec->updated_at, rec->rollout_id,
                       rec->queued_by),
                 &rec->id);
    if (rc == ALD_STORE_OK)
        rec->rev = 1;
    return leave(&o, rc);
}

/* After a revision-checked UPDATE of table changed no row: NOT_FOUND or CONFLICT. */
static enum ald_store_rc rev_miss(struct op *o, const char *table_sql, int64_t id)
{
    int64_t rev = 0;
    enum ald_store_rc rc = run_int(o, q(o, table_sql, "i", id), &rev);
    return rc == ALD_STORE_OK ? ALD_STORE_CONFLICT : rc;
}

static enum ald_store_rc op_update_save(struct ald_store *st, struct ald_update_rec *u)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "update_save", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run(&o, q(&o, "UPDATE updates SET state = ?1, wanted = ?2, steps = ?3, "
                       "estimate_only = ?4, plan_id = ?5, step = ?6, xfer_offset = ?7, "
                       "done_bytes = ?8, total_bytes = ?9, wire_estimate = ?10, result = ?11, "
                       "why = ?12, started_at = ?13, updated_at = ?14, finished_at = ?15, "
                       "full_only = ?16, rev = rev + 1 WHERE id = ?17 AND rev = ?18",
                   "tttiiiiuuuttiiiiii", u->state, u->wanted_json, u->steps_json,
                   (int64_t)u->estimate_only, (int64_t)u->plan_id, (int64_t)u->step,
                   (int64_t)u->offset, u->done_bytes, u->total_bytes, u->wire_estimate,
                   u->result, u->why, u->started_at, u->updated_at, u->finished_at,
                   (int64_t)u->full_only, u->id, u->rev));
    if (rc == ALD_STORE_OK) {
        if (o.d->changes(o.db) == 0)
            rc = rev_miss(&o, "SELECT rev FROM updates WHERE id = ?1", u->id);
        else
            u->rev++;
    }
    return leave(&o, rc);
}

static enum ald_store_rc update_one(struct ald_store *st, const char *sql, int64_t key,
                                    struct ald_update_rec *out)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "update_get", false);
    if (rc != ALD_STORE_OK)
        return rc;
    return leave(&o, run_one(&o, q(&o, sql, "i", key), read_update, out));
}

static enum ald_store_rc op_update_get(struct ald_store *st, int64_t id, struct ald_update_rec *out)
{
    return update_one(st, "SELECT " UPDATE_COLS " WHERE u.id = ?1", id, out);
}

static enum ald_store_rc op_update_active(struct ald_store *st, int64_t device_id,
                                          struct ald_update_rec *out)
{
    return update_one(st, "SELECT " UPDATE_COLS " WHERE u.device_id = ?1 AND u.state NOT IN "
                      UPDATE_FINAL, device_id, out);
}

static enum ald_store_rc op_update_list(struct ald_store *st, int64_t device_id, size_t limit,
                                        ald_update_cb cb, void *ctx)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "update_list", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_list(&o, q(&o, "SELECT " UPDATE_COLS " WHERE u.device_id = ?1 "
                            "ORDER BY u.id DESC LIMIT ?2", "ii", device_id,
                        limit ? (int64_t)limit : NO_LIMIT),
                  read_update, sizeof(struct ald_update_rec), (int (*)(void *, const void *))cb,
                  ctx);
    return leave(&o, rc);
}

/* ---- fleets ---- */

static bool read_product(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_product_rec *p = out;
    memset(p, 0, sizeof *p);
    p->id = col_i(o, stmt, 0);
    p->platform = (uint16_t)col_i(o, stmt, 2);
    p->created_at = col_i(o, stmt, 3);
    return col_text(o, stmt, 1, p->name, sizeof p->name);
}

static bool read_release(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_release_rec *r = out;
    memset(r, 0, sizeof *r);
    r->id = col_i(o, stmt, 0);
    r->product_id = col_i(o, stmt, 1);
    r->created_at = col_i(o, stmt, 6);
    return col_text(o, stmt, 2, r->version, sizeof r->version) &&
           col_text(o, stmt, 3, r->channel, sizeof r->channel) &&
           col_text(o, stmt, 4, r->images_json, sizeof r->images_json) &&
           col_text(o, stmt, 5, r->notes, sizeof r->notes);
}

static bool read_rollout(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_rollout_rec *r = out;
    memset(r, 0, sizeof *r);
    r->id = col_i(o, stmt, 0);
    r->release_id = col_i(o, stmt, 1);
    r->success_percent = (int)col_i(o, stmt, 4);
    r->error_count = (int)col_i(o, stmt, 5);
    r->error_percent = (int)col_i(o, stmt, 6);
    r->rate_per_min = (int)col_i(o, stmt, 7);
    r->budget_bytes_per_day = (uint64_t)col_i(o, stmt, 8);
    r->created_at = col_i(o, stmt, 11);
    r->updated_at = col_i(o, stmt, 12);
    r->finished_at = col_i(o, stmt, 13);
    r->rev = col_i(o, stmt, 14);
    return col_text(o, stmt, 2, r->target_json, sizeof r->target_json) &&
           col_text(o, stmt, 3, r->waves_json, sizeof r->waves_json) &&
           col_text(o, stmt, 9, r->state, sizeof r->state) &&
           col_text(o, stmt, 10, r->why, sizeof r->why);
}

static bool read_rollout_device(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_rollout_device_rec *r = out;
    memset(r, 0, sizeof *r);
    r->rollout_id = col_i(o, stmt, 0);
    r->device_id = col_i(o, stmt, 1);
    r->wave = (int)col_i(o, stmt, 3);
    r->update_id = col_i(o, stmt, 5);
    r->started_at = col_i(o, stmt, 6);
    r->finished_at = col_i(o, stmt, 7);
    return col_text(o, stmt, 2, r->device, sizeof r->device) &&
           col_text(o, stmt, 4, r->state, sizeof r->state);
}

#define PRODUCT_COLS "id, name, platform, created_at FROM products"
#define RELEASE_COLS "id, product_id, version, channel, images, notes, created_at FROM releases"
#define ROLLOUT_COLS                                                                            \
    "id, release_id, target, waves, success_percent, error_count, error_percent, rate_per_min, " \
    "budget_bytes_per_day, state, why, created_at, updated_at, finished_at, rev FROM rollouts"
#define ROLLOUT_DEVICE_COLS                                                                     \
    "r.rollout_id, r.device_id, d.name, r.wave, r.state, coalesce(r.update_id, 0), "           \
    "r.started_at, r.finished_at FROM rollout_devices r JOIN devices d ON d.id = r.device_id"

/* One read-only statement as a whole operation: one row into `one`, or each row to cb. The
 * statement is built by mk on the operation (so it runs on the borrowed connection). */
static enum ald_store_rc read_op(struct ald_store *st, const char *what, const char *sql,
                                 const char *fmt, int64_t i, const char *t, row_reader read,
                                 size_t rec_size, void *one, int (*cb)(void *, const void *),
                                 void *ctx)
{
    struct op o;
    struct ald_sqlstmt *stmt;
    enum ald_store_rc rc = enter(st, &o, what, false);
    if (rc != ALD_STORE_OK)
        return rc;
    if (!strcmp(fmt, "i"))
        stmt = q(&o, sql, fmt, i);
    else if (!strcmp(fmt, "t"))
        stmt = q(&o, sql, fmt, t);
    else if (!strcmp(fmt, "it"))
        stmt = q(&o, sql, fmt, i, t);
    else
        stmt = q(&o, sql, "");
    rc = one ? run_one(&o, stmt, read, one) : run_list(&o, stmt, read, rec_size, cb, ctx);
    return leave(&o, rc);
}

static enum ald_store_rc op_product_create(struct ald_store *st, struct ald_product_rec *rec)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "product_create", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rec->created_at = ald_now_ms();
    rc = run_int(&o, q(&o, "INSERT INTO products(name, platform, created_at) VALUES (?1, ?2, ?3) "
                           "RETURNING id", "tii", rec->name, (int64_t)rec->platform,
                       rec->created_at), &rec->id);
    return leave(&o, rc);
}

static enum ald_store_rc op_product_get(struct ald_store *st, const char *name,
                                        struct ald_product_rec *out)
{
    return read_op(st, "product_get", "SELECT " PRODUCT_COLS " WHERE name = ?1", "t", 0, name,
                   read_product, 0, out, NULL, NULL);
}

static enum ald_store_rc op_product_get_id(struct ald_store *st, int64_t id,
                                           struct ald_product_rec *out)
{
    return read_op(st, "product_get_id", "SELECT " PRODUCT_COLS " WHERE id = ?1", "i", id, NULL,
                   read_product, 0, out, NULL, NULL);
}

static enum ald_store_rc op_product_list(struct ald_store *st, ald_product_cb cb, void *ctx)
{
    return read_op(st, "product_list", "SELECT " PRODUCT_COLS " ORDER BY name", "", 0, NULL,
                   read_product, sizeof(struct ald_product_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_device_set_fleet(struct ald_store *st, const struct ald_device_rec *d)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "device_set_fleet", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_change1(&o, q(&o, "UPDATE devices SET product_id = ?1, groups = ?2, channel = ?3, "
                               "pinned = ?4, dev = ?5, disabled = ?7 WHERE id = ?6", "ntttiii",
                           d->product_id, d->groups_json, d->channel, d->pinned, (int64_t)d->dev,
                           d->id, (int64_t)d->disabled));
    return leave(&o, rc);
}

static enum ald_store_rc op_release_create(struct ald_store *st, struct ald_release_rec *rec)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "release_create", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rec->created_at = ald_now_ms();
    rc = run_int(&o, q(&o, "INSERT INTO releases(product_id, version, channel, images, notes, "
                           "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id", "itttti",
                       rec->product_id, rec->version, rec->channel, rec->images_json,
                       rec->notes, rec->created_at), &rec->id);
    return leave(&o, rc);
}

static enum ald_store_rc op_release_get(struct ald_store *st, int64_t product_id,
                                        const char *version, struct ald_release_rec *out)
{
    return read_op(st, "release_get",
                   "SELECT " RELEASE_COLS " WHERE product_id = ?1 AND version = ?2", "it",
                   product_id, version, read_release, 0, out, NULL, NULL);
}

static enum ald_store_rc op_release_get_id(struct ald_store *st, int64_t id,
                                           struct ald_release_rec *out)
{
    return read_op(st, "release_get_id", "SELECT " RELEASE_COLS " WHERE id = ?1", "i", id, NULL,
                   read_release, 0, out, NULL, NULL);
}

static enum ald_store_rc op_release_list(struct ald_store *st, int64_t product_id,
                                         ald_release_cb cb, void *ctx)
{
    return read_op(st, "release_list",
                   "SELECT " RELEASE_COLS " WHERE product_id = ?1 ORDER BY id", "i", product_id,
                   NULL, read_release, sizeof(struct ald_release_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_rollout_create(struct ald_store *st, struct ald_rollout_rec *r)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "rollout_create", false);
    if (rc != ALD_STORE_OK)
        return rc;
    r->created_at = r->updated_at = ald_now_ms();
    rc = run_int(&o, q(&o, "INSERT INTO rollouts(release_id, target, waves, success_percent, "
                           "error_count, error_percent, rate_per_min, budget_bytes_per_day, "
                           "state, why, created_at, updated_at, rev) VALUES (?1, ?2, ?3, ?4, "
                           "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1) RETURNING id",
                       "ittiiiiuttii", r->release_id, r->target_json, r->waves_json,
                       (int64_t)r->success_percent, (int64_t)r->error_count,
                       (int64_t)r->error_percent, (int64_t)r->rate_per_min,
                       r->budget_bytes_per_day, r->state, r->why, r->created_at,
                       r->updated_at), &r->id);
    if (rc == ALD_STORE_OK)
        r->rev = 1;
    return leave(&o, rc);
}

static enum ald_store_rc op_rollout_save(struct ald_store *st, struct ald_rollout_rec *r)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "rollout_save", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run(&o, q(&o, "UPDATE rollouts SET state = ?1, why = ?2, updated_at = ?3, "
                       "finished_at = ?4, rev = rev + 1 WHERE id = ?5 AND rev = ?6", "ttiiii",
                   r->state, r->why, r->updated_at, r->finished_at, r->id, r->rev));
    if (rc == ALD_STORE_OK) {
        if (o.d->changes(o.db) == 0)
            rc = rev_miss(&o, "SELECT rev FROM rollouts WHERE id = ?1", r->id);
        else
            r->rev++;
    }
    return leave(&o, rc);
}

static enum ald_store_rc op_rollout_get(struct ald_store *st, int64_t id, struct ald_rollout_rec *out)
{
    return read_op(st, "rollout_get", "SELECT " ROLLOUT_COLS " WHERE id = ?1", "i", id, NULL,
                   read_rollout, 0, out, NULL, NULL);
}

static enum ald_store_rc op_rollout_list(struct ald_store *st, ald_rollout_cb cb, void *ctx)
{
    return read_op(st, "rollout_list", "SELECT " ROLLOUT_COLS " ORDER BY id", "", 0, NULL,
                   read_rollout, sizeof(struct ald_rollout_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_rollout_list_state(struct ald_store *st, const char *state,
                                               ald_rollout_cb cb, void *ctx)
{
    if (!state)
        return op_rollout_list(st, cb, ctx);
    return read_op(st, "rollout_list_state",
                   "SELECT " ROLLOUT_COLS " WHERE state = ?1 ORDER BY id", "t", 0, state,
                   read_rollout, sizeof(struct ald_rollout_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

/* rollouts (i12): see store.h rollout_list_product. */
static enum ald_store_rc op_rollout_list_product(struct ald_store *st, int64_t product_id,
                                                 ald_rollout_cb cb, void *ctx)
{
    return read_op(st, "rollout_list_product",
                   "SELECT " ROLLOUT_COLS " WHERE release_id IN "
                   "(SELECT id FROM releases WHERE product_id = ?1) ORDER BY id DESC",
                   "i", product_id, NULL, read_rollout, sizeof(struct ald_rollout_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_rollout_device_put(struct ald_store *st,
                                               const struct ald_rollout_device_rec *r)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "rollout_device_put", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run(&o, q(&o, "INSERT INTO rollout_devices(rollout_id, device_id, wave, state, "
                       "update_id, started_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                       "ON CONFLICT (rollout_id, device_id) DO UPDATE SET wave = excluded.wave, "
                       "state = excluded.state, update_id = excluded.update_id, "
                       "started_at = excluded.started_at, finished_at = excluded.finished_at",
                   "iiitnii", r->rollout_id, r->device_id, (int64_t)r->wave, r->state,
                   r->update_id, r->started_at, r->finished_at));
    return leave(&o, rc);
}

static enum ald_store_rc op_rollout_device_list(struct ald_store *st, int64_t rollout_id,
                                                ald_rollout_device_cb cb, void *ctx)
{
    return read_op(st, "rollout_device_list",
                   "SELECT " ROLLOUT_DEVICE_COLS " WHERE r.rollout_id = ?1 "
                   "ORDER BY r.wave, d.name", "i", rollout_id, NULL, read_rollout_device,
                   sizeof(struct ald_rollout_device_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_rollout_device_query(struct ald_store *st,
                                                 const struct ald_rollout_device_filter *f,
                                                 ald_rollout_device_cb cb, void *ctx)
{
    struct op o;
    struct qb *b = calloc(1, sizeof *b);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    if (!b)
        return rc;
    qb_add(b, "SELECT " ROLLOUT_DEVICE_COLS " WHERE 1 = 1");
    if (f->rollout_id) {
        qb_add(b, " AND r.rollout_id = ");
        qb_int(b, f->rollout_id);
    }
    if (f->device_id) {
        qb_add(b, " AND r.device_id = ");
        qb_int(b, f->device_id);
    }
    if (f->state) {
        qb_add(b, " AND r.state = ");
        qb_text(b, f->state);
    }
    if (f->max_wave >= 0) {
        qb_add(b, " AND r.wave <= ");
        qb_int(b, f->max_wave);
    }
    qb_add(b, " ORDER BY r.rollout_id, r.wave, d.name");
    qb_limit(b, f->limit);
    rc = enter(st, &o, "rollout_device_query", false);
    if (rc == ALD_STORE_OK)
        rc = leave(&o, run_list(&o, qb_prepare(&o, b), read_rollout_device,
                                sizeof(struct ald_rollout_device_rec),
                                (int (*)(void *, const void *))cb, ctx));
    free(b);
    return rc;
}

static enum ald_store_rc op_rollout_device_counts(struct ald_store *st, int64_t rollout_id,
                                                  int64_t since_ms, ald_rollout_count_cb cb,
                                                  void *ctx)
{
    struct op o;
    struct ald_sqlstmt *stmt;
    enum ald_sql_rc r;
    char state[ALD_UPDATE_STATE_MAX + 1];
    enum ald_store_rc rc = enter(st, &o, "rollout_device_counts", false);
    if (rc != ALD_STORE_OK)
        return rc;
    stmt = q(&o, "SELECT wave, state, count(*), CAST(coalesce(sum(CASE WHEN started_at <> 0 "
                 "AND started_at >= ?2 THEN 1 ELSE 0 END), 0) AS BIGINT) FROM rollout_devices "
                 "WHERE rollout_id = ?1 GROUP BY wave, state ORDER BY wave, state", "ii",
             rollout_id, since_ms);
    if (!stmt)
        return leave(&o, o.rc);
    while ((r = o.d->step(stmt)) == ALD_SQL_ROW) {
        if (!col_text(&o, stmt, 1, state, sizeof state)) {
            rc = misfit(&o);
            break;
        }
        if (cb(ctx, (int)col_i(&o, stmt, 0), state, (uint64_t)col_i(&o, stmt, 2),
               (uint64_t)col_i(&o, stmt, 3)) != 0)
            break;
    }
    if (rc == ALD_STORE_OK && r != ALD_SQL_ROW && r != ALD_SQL_DONE)
        rc = fail(&o, r);
    o.d->finalize(stmt);
    return leave(&o, rc);
}

/* issue 15 (ops): updates or rollouts by state, for GET /metrics. */
static enum ald_store_rc op_state_counts(struct ald_store *st, bool rollouts,
                                         ald_state_count_cb cb, void *ctx)
{
    struct op o;
    struct ald_sqlstmt *stmt;
    enum ald_sql_rc r;
    char state[ALD_UPDATE_STATE_MAX + 1];
    enum ald_store_rc rc = enter(st, &o, "state_counts", false);
    if (rc != ALD_STORE_OK)
        return rc;
    stmt = q(&o, rollouts ? "SELECT state, count(*) FROM rollouts GROUP BY state ORDER BY state"
                          : "SELECT state, count(*) FROM updates GROUP BY state ORDER BY state",
             "");
    if (!stmt)
        return leave(&o, o.rc);
    while ((r = o.d->step(stmt)) == ALD_SQL_ROW) {
        if (!col_text(&o, stmt, 0, state, sizeof state)) {
            rc = misfit(&o);
            break;
        }
        if (cb(ctx, state, (uint64_t)col_i(&o, stmt, 1)) != 0)
            break;
    }
    if (rc == ALD_STORE_OK && r != ALD_SQL_ROW && r != ALD_SQL_DONE)
        rc = fail(&o, r);
    o.d->finalize(stmt);
    return leave(&o, rc);
}

static enum ald_store_rc op_auto_bytes(struct ald_store *st, int64_t device_id, int64_t since,
                                       uint64_t *out)
{
    struct op o;
    int64_t v = 0;
    enum ald_store_rc rc = enter(st, &o, "auto_bytes", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_int(&o, q(&o, "SELECT CAST(coalesce(sum(bytes_tx + bytes_rx), 0) AS BIGINT) "
                           "FROM updates WHERE device_id = ?1 AND rollout_id IS NOT NULL AND "
                           "created_at >= ?2", "ii", device_id, since), &v);
    if (rc == ALD_STORE_OK)
        *out = (uint64_t)v;
    return leave(&o, rc);
}

/* ---- device queries and modules ---- */

/* ---- issue 13 (sort): device orders ---- */

/* An active update's state in its lifecycle order; the SQL below spells the same table. */
static const char *const sort_states[] = {"queued", "downloading", "verifying", "installing",
                                          "rebooting", "confirming"};
#define SORT_STATE_OTHER 7

/* Per sort (enum ald_device_sort): the key and the test for "no value" over devices d and
 * their active update u. A device without the value has key 0. */
static const struct {
    const char *key, *none;
} sort_sql[] = {
    [ALD_SORT_LAST_SEEN] = {"coalesce(d.last_seen_at, 0)", "coalesce(d.last_seen_at, 0) = 0"},
    [ALD_SORT_REPORTED] = {"coalesce(d.reported_at, 0)", "coalesce(d.reported_at, 0) = 0"},
    [ALD_SORT_NEXT_CHECKIN] = {"d.next_checkin_at", "d.next_checkin_at = 0"},
    [ALD_SORT_BYTES] = {"(d.bytes_tx + d.bytes_rx)", "1 = 0"},
    [ALD_SORT_STATE] = {"(CASE WHEN u.id IS NULL THEN 0 WHEN u.state = 'queued' THEN 1 "
                        "WHEN u.state = 'downloading' THEN 2 WHEN u.state = 'verifying' THEN 3 "
                        "WHEN u.state = 'installing' THEN 4 WHEN u.state = 'rebooting' THEN 5 "
                        "WHEN u.state = 'confirming' THEN 6 ELSE 7 END)",
                        "u.id IS NULL"},
};

static bool sort_keyed(const struct ald_device_filter *f)
{
    return f->sort > ALD_SORT_NAME && f->sort <= ALD_SORT_STATE;
}

int64_t ald_device_sort_value(int sort, const struct ald_device_summary *d, bool *none)
{
    int64_t v = 0;
    switch (sort) {
    case ALD_SORT_LAST_SEEN: v = d->last_seen_at; break;
    case ALD_SORT_REPORTED: v = d->reported_at; break;
    case ALD_SORT_NEXT_CHECKIN: v = d->next_checkin_at; break;
    case ALD_SORT_BYTES:
        *none = false;
        return (int64_t)(d->bytes_tx + d->bytes_rx);
    case ALD_SORT_STATE:
        if (!d->update_id)
            break;
        v = SORT_STATE_OTHER;
        for (size_t i = 0; i < sizeof sort_states / sizeof sort_states[0]; i++)
            if (!strcmp(d->update_state, sort_states[i]))
                v = (int64_t)i + 1;
        break;
    default: break;
    }
    *none = v == 0;
    return v;
}

/* The keyset condition of a page that starts after f's cursor. */
static void sort_after(struct qb *b, const struct ald_device_filter *f)
{
    int k;
    if (!sort_keyed(f) || !f->after_key) {
        qb_add(b, f->desc && !sort_keyed(f) ? " AND d.name < " : " AND d.name > ");
        qb_text(b, f->after_name);
        return;
    }
    qb_add(b, " AND (");
    qb_add(b, sort_sql[f->sort].none);
    if (f->after_none) { /* among the devices without the value: by name */
        qb_add(b, ") AND d.name > ");
        qb_text(b, f->after_name);
        return;
    }
    qb_add(b, " OR ");
    qb_add(b, sort_sql[f->sort].key);
    qb_add(b, f->desc ? " < " : " > ");
    qb_int(b, f->after_value);
    k = b->n;
    qb_add(b, " OR (");
    qb_add(b, sort_sql[f->sort].key);
    qb_add(b, " = ");
    qb_again(b, k);
    qb_add(b, " AND d.name > ");
    qb_text(b, f->after_name);
    qb_add(b, "))");
}

/* ORDER BY of device_query: none last, the key, then the name. */
static void sort_order(struct qb *b, const struct ald_device_filter *f)
{
    if (!sort_keyed(f)) {
        qb_add(b, f->desc ? " ORDER BY d.name DESC" : " ORDER BY d.name");
        return;
    }
    qb_add(b, " ORDER BY CASE WHEN ");
    qb_add(b, sort_sql[f->sort].none);
    qb_add(b, " THEN 1 ELSE 0 END, ");
    qb_add(b, sort_sql[f->sort].key);
    qb_add(b, f->desc ? " DESC, d.name" : ", d.name");
}

/* The WHERE clause of a device filter (devices d, active update u). */
static void device_where(struct qb *b, const struct ald_device_filter *f, bool paging,
                         char *needle, size_t needle_cap, char *upper, size_t upper_cap)
{
    qb_add(b, " WHERE d.removed_at = 0"); /* tombstones of removed devices are no devices */
    if (f->product_id > 0) {
        qb_add(b, " AND d.product_id = ");
        qb_int(b, f->product_id);
    } else if (f->product_id < 0) {
        qb_add(b, " AND d.product_id IS NULL");
    }
    if (f->group) {
        /* groups is a JSON array of names as jansson writes it: ["a","b"]. Names cannot
         * hold quotes (alc_name_valid), so "name" with its quotes is one element. */
        snprintf(needle, needle_cap, "\"%s\"", f->group);
        qb_add(b, " AND replace(d.groups, ");
        qb_text(b, needle);
        qb_add(b, ", '') <> d.groups");
    }
    if (f->channel) {
        qb_add(b, " AND d.channel = ");
        qb_text(b, f->channel);
    }
    if (f->function) {
        qb_add(b, " AND EXISTS (SELECT 1 FROM device_modules m WHERE m.device_id = d.id AND "
                  "m.function = ");
        qb_text(b, f->function);
        qb_add(b, " AND m.module_index = ");
        qb_int(b, f->index);
        if (f->version) {
            qb_add(b, " AND m.version = ");
            qb_text(b, f->version);
        }
        qb_add(b, ")");
    }
    if (f->online >= 0) {
        qb_add(b, f->online ? " AND coalesce(d.last_seen_at, 0) >= "
                            : " AND coalesce(d.last_seen_at, 0) < ");
        qb_int(b, f->online_since);
    }
    if (f->sleeping) { /* issue 13 (console) */
        qb_add(b, f->sleeping > 0 ? " AND d.next_checkin_at > " : " AND d.next_checkin_at <= ");
        qb_int(b, f->now_ms);
    }
    if (f->update_state) {
        if (!strcmp(f->update_state, "none")) {
            qb_add(b, " AND u.id IS NULL");
        } else if (!strcmp(f->update_state, "active")) {
            qb_add(b, " AND u.id IS NOT NULL");
        } else {
            qb_add(b, " AND u.state = ");
            qb_text(b, f->update_state);
        }
    }
    if (f->name_prefix && f->name_prefix[0]) {
        size_t n = strlen(f->name_prefix);
        int k;
        /* A range on the name index, then the exact test. */
        qb_add(b, " AND d.name >= ");
        qb_text(b, f->name_prefix);
        k = b->n;
        if (n < upper_cap && (unsigned char)f->name_prefix[n - 1] < 0x7e) {
            memcpy(upper, f->name_prefix, n + 1);
            upper[n - 1]++;
            qb_add(b, " AND d.name < ");
            qb_text(b, upper);
        }
        qb_add(b, " AND substr(d.name, 1, CAST(");
        qb_int(b, (int64_t)n);
        qb_add(b, " AS INTEGER)) = ");
        qb_again(b, k);
    }
    if (paging && f->after_name)
        sort_after(b, f);
}

#define ACTIVE_JOIN                                                                            \
    " LEFT JOIN updates u ON u.device_id = d.id AND u.state NOT IN " UPDATE_FINAL

static bool read_summary(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_device_summary *d = out;
    memset(d, 0, sizeof *d);
    d->id = col_i(o, stmt, 0);
    d->platform = (uint16_t)col_i(o, stmt, 3);
    d->dev = col_i(o, stmt, 4) != 0;
    d->product_id = col_i(o, stmt, 5);
    d->created_at = col_i(o, stmt, 6);
    d->last_seen_at = col_i(o, stmt, 7);
    d->reported_at = col_i(o, stmt, 8);
    d->next_checkin_at = col_i(o, stmt, 9);
    d->bytes_tx = (uint64_t)col_i(o, stmt, 10);
    d->bytes_rx = (uint64_t)col_i(o, stmt, 11);
    d->update_id = col_i(o, stmt, 15);
    return col_text(o, stmt, 1, d->name, sizeof d->name) &&
           col_text(o, stmt, 2, d->identity, sizeof d->identity) &&
           col_text(o, stmt, 12, d->groups_json, sizeof d->groups_json) &&
           col_text(o, stmt, 13, d->channel, sizeof d->channel) &&
           col_text(o, stmt, 14, d->pinned, sizeof d->pinned) &&
           col_text(o, stmt, 16, d->update_state, sizeof d->update_state);
}

/* A filter's texts must fit what the store can hold; false (logged) if not. */
static bool filter_ok(const struct ald_device_filter *f)
{
    if ((f->group && strlen(f->group) > ALD_NAME_MAX) ||
        (f->name_prefix && strlen(f->name_prefix) > ALD_NAME_MAX)) {
        ald_log(ALD_LOG_ERROR, "device filter: a name is too long", NULL);
        return false;
    }
    return true;
}

static enum ald_store_rc op_device_query(struct ald_store *st, const struct ald_device_filter *f,
                                         ald_device_summary_cb cb, void *ctx)
{
    struct op o;
    struct qb *b;
    char needle[ALD_NAME_MAX + 3], upper[ALD_NAME_MAX + 1];
    enum ald_store_rc rc = ALD_STORE_ERROR;
    if (!filter_ok(f) || !(b = calloc(1, sizeof *b)))
        return rc;
    qb_add(b, "SELECT d.id, d.name, d.psk_identity, d.platform, d.dev, "
              "coalesce(d.product_id, 0), d.created_at, coalesce(d.last_seen_at, 0), "
              "coalesce(d.reported_at, 0), d.next_checkin_at, d.bytes_tx, d.bytes_rx, d.groups, "
              "d.channel, d.pinned, coalesce(u.id, 0), coalesce(u.state, '') "
              "FROM devices d" ACTIVE_JOIN);
    device_where(b, f, true, needle, sizeof needle, upper, sizeof upper);
    sort_order(b, f); /* issue 13 (sort) */
    qb_limit(b, f->limit);
    rc = enter(st, &o, "device_query", false);
    if (rc == ALD_STORE_OK)
        rc = leave(&o, run_list(&o, qb_prepare(&o, b), read_summary,
                                sizeof(struct ald_device_summary),
                                (int (*)(void *, const void *))cb, ctx));
    free(b);
    return rc;
}

static enum ald_store_rc op_device_count(struct ald_store *st, const struct ald_device_filter *f,
                                         uint64_t *out)
{
    struct op o;
    struct qb *b;
    int64_t n = 0;
    char needle[ALD_NAME_MAX + 3], upper[ALD_NAME_MAX + 1];
    enum ald_store_rc rc = ALD_STORE_ERROR;
    if (!filter_ok(f) || !(b = calloc(1, sizeof *b)))
        return rc;
    qb_add(b, "SELECT count(*) FROM devices d");
    if (f->update_state)
        qb_add(b, ACTIVE_JOIN);
    device_where(b, f, false, needle, sizeof needle, upper, sizeof upper);
    rc = enter(st, &o, "device_count", false);
    if (rc == ALD_STORE_OK) {
        rc = leave(&o, run_int(&o, qb_prepare(&o, b), &n));
        if (rc == ALD_STORE_OK)
            *out = (uint64_t)n;
    }
    free(b);
    return rc;
}

static bool read_module(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_module_rec *m = out;
    memset(m, 0, sizeof *m);
    m->device_id = col_i(o, stmt, 0);
    m->index = (int)col_i(o, stmt, 2);
    return col_text(o, stmt, 1, m->function, sizeof m->function) &&
           col_text(o, stmt, 3, m->version, sizeof m->version) &&
           col_text(o, stmt, 4, m->version_key, sizeof m->version_key) &&
           col_text(o, stmt, 5, m->sha256, sizeof m->sha256);
}

static enum ald_store_rc op_device_modules(struct ald_store *st, int64_t device_id,
                                           ald_module_cb cb, void *ctx)
{
    return read_op(st, "device_modules",
                   "SELECT device_id, function, module_index, version, version_key, sha256 "
                   "FROM device_modules WHERE device_id = ?1 ORDER BY function, module_index",
                   "i", device_id, NULL, read_module, sizeof(struct ald_module_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

/* issue 11 (checkin): the modules of a page of devices in one statement (GET /v1/devices
 * made one per device: 100 round trips a page on PostgreSQL). The ids travel as one text
 * parameter: a JSON array for SQLite's json_each, an array literal for PostgreSQL's ANY. */
static enum ald_store_rc op_device_modules_many(struct ald_store *st, const int64_t *ids,
                                                size_t n, ald_module_cb cb, void *ctx)
{
    struct op o;
    enum ald_store_rc rc;
    size_t cap = 24 * n + 3, len = 0;
    char *list;
    if (n == 0)
        return ALD_STORE_OK;
    if (n > ALD_MODULES_MANY_MAX || !(list = malloc(cap)))
        return ALD_STORE_ERROR;
    rc = enter(st, &o, "device_modules_many", false);
    if (rc != ALD_STORE_OK) {
        free(list);
        return rc;
    }
    list[len++] = is_pg(&o) ? '{' : '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(list + len, cap - len, "%s%" PRId64, i ? "," : "", ids[i]);
    snprintf(list + len, cap - len, "%c", is_pg(&o) ? '}' : ']');
    rc = run_list(&o, q(&o, is_pg(&o)
                               ? "SELECT device_id, function, module_index, version, version_key, "
                                 "sha256 FROM device_modules WHERE device_id = "
                                 "ANY(CAST(?1 AS BIGINT[])) ORDER BY device_id, function, "
                                 "module_index"
                               : "SELECT device_id, function, module_index, version, version_key, "
                                 "sha256 FROM device_modules WHERE device_id IN "
                                 "(SELECT value FROM json_each(?1)) ORDER BY device_id, "
                                 "function, module_index",
                        "t", list),
                  read_module, sizeof(struct ald_module_rec), (int (*)(void *, const void *))cb,
                  ctx);
    free(list);
    return leave(&o, rc);
}

static enum ald_store_rc op_module_versions(struct ald_store *st, int64_t product_id,
                                            ald_module_version_cb cb, void *ctx)
{
    struct op o;
    struct ald_sqlstmt *stmt;
    enum ald_sql_rc r;
    char fn[ALD_FUNCTION_NAME_MAX + 1], ver[ALD_VERSION_MAX + 1];
    const char *sql;
    enum ald_store_rc rc = enter(st, &o, "module_versions", false);
    if (rc != ALD_STORE_OK)
        return rc;
#define MV_SELECT "SELECT m.function, m.module_index, m.version, count(*) FROM device_modules m "
#define MV_GROUP                                                                               \
    " GROUP BY m.function, m.module_index, m.version_key, m.version "                          \
    "ORDER BY m.function, m.module_index, m.version_key, m.version"
    if (product_id > 0) {
        sql = MV_SELECT "JOIN devices d ON d.id = m.device_id WHERE d.product_id = ?1" MV_GROUP;
        stmt = q(&o, sql, "i", product_id);
    } else if (product_id < 0) {
        sql = MV_SELECT "JOIN devices d ON d.id = m.device_id WHERE d.product_id IS NULL"
                        MV_GROUP;
        stmt = q(&o, sql, "");
    } else {
        stmt = q(&o, MV_SELECT MV_GROUP, "");
    }
#undef MV_SELECT
#undef MV_GROUP
    if (!stmt)
        return leave(&o, o.rc);
    while ((r = o.d->step(stmt)) == ALD_SQL_ROW) {
        if (!col_text(&o, stmt, 0, fn, sizeof fn) || !col_text(&o, stmt, 2, ver, sizeof ver)) {
            rc = misfit(&o);
            break;
        }
        if (cb(ctx, fn, (int)col_i(&o, stmt, 1), ver, (uint64_t)col_i(&o, stmt, 3)) != 0)
            break;
    }
    if (rc == ALD_STORE_OK && r != ALD_SQL_ROW && r != ALD_SQL_DONE)
        rc = fail(&o, r);
    o.d->finalize(stmt);
    return leave(&o, rc);
}

/* ---- usage (issue 12) ---- */

void ald_usage_month(int64_t ms, char out[8])
{
    /* Civil date of a day count (Howard Hinnant's civil_from_days). */
    int64_t z = (ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    unsigned yy = (unsigned)(y % 10000), mm = (unsigned)m % 100;
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10);
    out[3] = (char)('0' + yy % 10);
    out[4] = '-';
    out[5] = (char)('0' + mm / 10);
    out[6] = (char)('0' + mm % 10);
    out[7] = '\0';
}

static bool read_usage(struct op *o, struct ald_sqlstmt *stmt, void *out)
{
    struct ald_usage_rec *u = out;
    memset(u, 0, sizeof *u);
    u->device_id = col_i(o, stmt, 0);
    u->bytes_tx = (uint64_t)col_i(o, stmt, 3);
    u->bytes_rx = (uint64_t)col_i(o, stmt, 4);
    return col_text(o, stmt, 1, u->device, sizeof u->device) &&
           col_text(o, stmt, 2, u->month, sizeof u->month);
}

static enum ald_store_rc op_usage_list(struct ald_store *st, const char *device,
                                       const char *month, ald_usage_cb cb, void *ctx)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "usage_list", false);
    if (rc != ALD_STORE_OK)
        return rc;
    rc = run_list(&o, q(&o, "SELECT device_id, device, month, bytes_tx, bytes_rx "
                            "FROM device_usage WHERE (CAST(?1 AS TEXT) IS NULL OR device = ?1) "
                            "AND (CAST(?2 AS TEXT) IS NULL OR month = ?2) "
                            "ORDER BY month, device, device_id", "tt", device, month),
                  read_usage, sizeof(struct ald_usage_rec), (int (*)(void *, const void *))cb,
                  ctx);
    return leave(&o, rc);
}

/* ---- claims ---- */

#define CLAIM_NAMESPACE 0x616c7274LL /* "alrt": the high 32 bits of a rollout claim's lock key */

/* One integer from a statement on the claims session; GONE and errors as ald_sql_rc. */
static enum ald_sql_rc claims_int(struct pool *p, const char *sql, int64_t key, int64_t *out)
{
    struct ald_sqlstmt *stmt = NULL;
    enum ald_sql_rc r = p->drv->prepare(p->claims_db, sql, &stmt);
    if (r == ALD_SQL_OK && key)
        r = p->drv->bind_int64(stmt, 1, CLAIM_NAMESPACE << 32 | (key & 0xffffffffLL));
    if (r == ALD_SQL_OK)
        r = p->drv->step(stmt);
    if (r == ALD_SQL_ROW) {
        *out = p->drv->column_int64(stmt, 0);
        r = ALD_SQL_OK;
    } else if (r == ALD_SQL_DONE) {
        r = ALD_SQL_ERROR;
    }
    p->drv->finalize(stmt);
    return r;
}

static enum ald_store_rc claims_lost(struct pool *p, enum ald_sql_rc r)
{
    ald_log(ALD_LOG_ERROR, r == ALD_SQL_GONE ? "claims session lost" : "claims session failed",
            "error", p->claims_db ? p->drv->errmsg(p->claims_db) : "cannot connect", NULL);
    p->drv->close(p->claims_db);
    p->claims_db = NULL;
    p->nheld = 0; /* the server let go of every lock of that session */
    return r == ALD_SQL_GONE || r == ALD_SQL_OK ? ALD_STORE_UNAVAILABLE : ALD_STORE_ERROR;
}

static enum ald_store_rc op_claim(struct ald_store *st, int64_t key, bool *held)
{
    struct pool *p = ((struct sql_store *)st)->pool;
    enum ald_store_rc rc = ALD_STORE_OK;
    enum ald_sql_rc r;
    char err[256];
    int64_t v = 0;
    *held = true;
    if (p->dialect != DIALECT_PG)
        return ALD_STORE_OK;
    pthread_mutex_lock(&p->claims_lock);
    *held = false;
    if (!p->claims_db && p->drv->connect(p->target, &p->claims_db, err, sizeof err) != ALD_SQL_OK) {
        p->claims_db = NULL;
        rc = claims_lost(p, ALD_SQL_GONE);
        goto out;
    }
    if ((r = claims_int(p, "SELECT 1", 0, &v)) != ALD_SQL_OK) { /* still the same session? */
        rc = claims_lost(p, r);
        goto out;
    }
    for (size_t i = 0; i < p->nheld; i++)
        if (p->held[i] == key) {
            *held = true;
            goto out;
        }
    if ((r = claims_int(p, "SELECT CASE WHEN pg_try_advisory_lock(CAST(?1 AS BIGINT)) THEN 1 ELSE 0 END",
                        key, &v)) != ALD_SQL_OK) {
        rc = claims_lost(p, r);
        goto out;
    }
    if (v != 1)
        goto out;
    if (p->nheld == p->capheld) {
        size_t cap = p->capheld ? p->capheld * 2 : 8;
        int64_t *h = realloc(p->held, cap * sizeof *h);
        if (!h) {
            claims_int(p, "SELECT CASE WHEN pg_advisory_unlock(CAST(?1 AS BIGINT)) THEN 1 ELSE 0 END", key, &v);
            rc = ALD_STORE_ERROR;
            goto out;
        }
        p->held = h;
        p->capheld = cap;
    }
    p->held[p->nheld++] = key;
    *held = true;
out:
    pthread_mutex_unlock(&p->claims_lock);
    return rc;
}

static enum ald_store_rc op_unclaim(struct ald_store *st, int64_t key)
{
    struct pool *p = ((struct sql_store *)st)->pool;
    enum ald_store_rc rc = ALD_STORE_OK;
    int64_t v = 0;
    if (p->dialect != DIALECT_PG)
        return ALD_STORE_OK;
    pthread_mutex_lock(&p->claims_lock);
    for (size_t i = 0; i < p->nheld; i++) {
        if (p->held[i] != key)
            continue;
        p->held[i] = p->held[--p->nheld];
        enum ald_sql_rc r = claims_int(p, "SELECT CASE WHEN pg_advisory_unlock(CAST(?1 AS BIGINT)) "
                                          "THEN 1 ELSE 0 END", key, &v);
        if (r != ALD_SQL_OK)
            rc = claims_lost(p, r);
        break;
    }
    pthread_mutex_unlock(&p->claims_lock);
    return rc;
}

/* ---- images by id (issue 12) ---- */

static enum ald_store_rc op_image_get_id(struct ald_store *st, const char *id,
                                         struct ald_image_rec *out)
{
    return read_op(st, "image_get_id", "SELECT " IMAGE_COLS " FROM images WHERE id = ?1", "t",
                   0, id, read_image, 0, out, NULL, NULL);
}

static enum ald_store_rc op_image_by_payload(struct ald_store *st, const char *sha256,
                                             ald_image_cb cb, void *ctx)
{
    return read_op(st, "image_by_payload",
                   "SELECT " IMAGE_COLS " FROM images WHERE sha256 = ?1 ORDER BY created_at, id",
                   "t", 0, sha256, read_image, sizeof(struct ald_image_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_image_delete(struct ald_store *st, const char *id)
{
    struct op o;
    enum ald_store_rc rc = enter(st, &o, "image_delete", false);
    if (rc != ALD_STORE_OK)
        return rc;
    return leave(&o, run_change1(&o, q(&o, "DELETE FROM images WHERE id = ?1", "t", id)));
}

/* Ids are lowercase hex, so LIKE needs no escaping: '"<id>"' in a JSON array of ids. */
static enum ald_store_rc op_image_releases(struct ald_store *st, const char *id,
                                           ald_release_cb cb, void *ctx)
{
    return read_op(st, "image_releases",
                   "SELECT " RELEASE_COLS " WHERE images LIKE '%\"' || ?1 || '\"%' ORDER BY id",
                   "t", 0, id, read_release, sizeof(struct ald_release_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_image_updates(struct ald_store *st, const char *id,
                                          ald_update_cb cb, void *ctx)
{
    return read_op(st, "image_updates",
                   "SELECT " UPDATE_COLS " WHERE u.state NOT IN " UPDATE_FINAL
                   " AND (u.wanted LIKE '%' || ?1 || '%' OR u.steps LIKE '%' || ?1 || '%')"
                   " ORDER BY u.id", "t", 0, id, read_update, sizeof(struct ald_update_rec), NULL,
                   (int (*)(void *, const void *))cb, ctx);
}

static const struct ald_store_ops sql_ops = {
    .backend = "", /* the driver's name, in each pool's copy */
    .close = op_close,
    .schema_version = op_schema_version,
    .token_create = op_token_create,
    .token_by_hash = op_token_by_hash,
    .token_get = op_token_get,
    .token_touch = op_token_touch,
    .token_revoke = op_token_revoke,
    .token_list = op_token_list,
    .device_create = op_device_create,
    .device_get = op_device_get,
    .device_by_identity = op_device_by_identity,
    .device_report = op_device_report,
    .device_delete = op_device_delete,
    .device_list = op_device_list,
    .image_put = op_image_put,
    .image_get = op_image_get,
    .image_list = op_image_list,
    .event_append = op_event_append,
    .event_list = op_event_list,
    .device_seen = op_device_seen,
    .device_checkin = op_device_checkin,
    .update_create = op_update_create,
    .update_save = op_update_save,
    .update_get = op_update_get,
    .update_active = op_update_active,
    .update_list = op_update_list,
    .product_create = op_product_create,
    .product_get = op_product_get,
    .product_get_id = op_product_get_id,
    .product_list = op_product_list,
    .device_set_fleet = op_device_set_fleet,
    .release_create = op_release_create,
    .release_get = op_release_get,
    .release_get_id = op_release_get_id,
    .release_list = op_release_list,
    .rollout_create = op_rollout_create,
    .rollout_save = op_rollout_save,
    .rollout_get = op_rollout_get,
    .rollout_list = op_rollout_list,
    .rollout_device_put = op_rollout_device_put,
    .rollout_device_list = op_rollout_device_list,
    .auto_bytes = op_auto_bytes,
    .event_last_id = op_event_last_id,
    .begin = op_begin,
    .begin_bookkeeping = op_begin_bookkeeping,
    .commit = op_commit,
    .rollback = op_rollback,
    .device_query = op_device_query,
    .device_count = op_device_count,
    .device_modules = op_device_modules,
    .module_versions = op_module_versions,
    .usage_list = op_usage_list, /* issue 12 */
    .rollout_list_state = op_rollout_list_state,
    .rollout_device_query = op_rollout_device_query,
    .rollout_device_counts = op_rollout_device_counts,
    .claim = op_claim,
    .unclaim = op_unclaim,
    .image_get_id = op_image_get_id,
    .image_by_payload = op_image_by_payload,
    .image_delete = op_image_delete,
    .image_releases = op_image_releases,
    .image_updates = op_image_updates,
    .rollout_list_product = op_rollout_list_product, /* rollouts (i12) */
    .state_counts = op_state_counts, /* issue 15 (ops) */
    .device_modules_many = op_device_modules_many, /* issue 11 (checkin) */
};

/* ---- opening ---- */

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum ald_store_open_rc ald_store_open(const char *url, struct ald_store **out, char *err,
                                      size_t errlen)
{
    const struct ald_sql_driver *drv;
    const char *target = NULL;
    struct sql_store *s = NULL;
    struct pool *p = NULL;
    struct conn *c;
    struct op o;
    enum ald_store_open_rc rc = ALD_STORE_OPEN_ERROR;
    enum ald_sql_rc r;

    *out = NULL;
    if (!url || !*url) {
        snprintf(err, errlen, "no store URL given");
        return ALD_STORE_OPEN_BAD_URL;
    }
    drv = ald_sqldb_for_url(url, &target);
    if (!drv) {
        if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://"))
            snprintf(err, errlen, "this airliftd was built without PostgreSQL: it cannot open "
                                  "a postgresql:// store");
        else if (has_prefix(url, "sqlite:"))
            snprintf(err, errlen, "store URL \"sqlite:\" names no database file "
                                  "(expected sqlite:PATH)");
        else
            snprintf(err, errlen, "unknown store URL scheme (expected sqlite:PATH or "
                                  "postgresql://...)");
        return ALD_STORE_OPEN_BAD_URL;
    }
    p = calloc(1, sizeof *p);
    s = calloc(1, sizeof *s);
    if (!p || !s || !(p->target = strdup(target))) {
        snprintf(err, errlen, "out of memory");
        free(s);
        if (p)
            free(p->target);
        free(p);
        return ALD_STORE_OPEN_ERROR;
    }
    p->drv = drv;
    p->dialect = strcmp(drv->name, "sqlite") ? DIALECT_PG : DIALECT_SQLITE;
    p->n = p->dialect == DIALECT_PG ? POOL_PG : 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->claims_lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->ops = sql_ops;
    p->ops.backend = drv->name;
    s->base.ops = &p->ops;
    s->pool = p;

    /* The first connection now, so an unreachable database is known at start. */
    c = &p->conns[0];
    r = drv->connect(p->target, &c->db, err, errlen);
    if (r != ALD_SQL_OK) {
        c->db = NULL;
        rc = r == ALD_SQL_GONE ? ALD_STORE_OPEN_UNREACHABLE : ALD_STORE_OPEN_ERROR;
        goto out;
    }
    memset(&o, 0, sizeof o);
    o.s = s;
    o.p = p;
    o.d = drv;
    o.c = c;
    o.db = c->db;
    o.what = "migrate";
    if (p->dialect == DIALECT_PG &&
        run(&o, q(&o, "SELECT pg_advisory_lock(CAST(?1 AS BIGINT))", "i", MIGRATE_LOCK_KEY)) !=
            ALD_STORE_OK) {
        snprintf(err, errlen, "cannot take the migration lock: %s", drv->errmsg(c->db));
        rc = o.broken ? ALD_STORE_OPEN_UNREACHABLE : ALD_STORE_OPEN_ERROR;
        goto out;
    }
    rc = migrate(&o, err, errlen);
    if (p->dialect == DIALECT_PG && !o.broken)
        run(&o, q(&o, "SELECT pg_advisory_unlock(CAST(?1 AS BIGINT))", "i", MIGRATE_LOCK_KEY));
    if (rc == ALD_STORE_OPEN_ERROR && o.broken)
        rc = ALD_STORE_OPEN_UNREACHABLE;
out:
    if (rc != ALD_STORE_OPEN_OK) {
        op_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return ALD_STORE_OPEN_OK;
}
