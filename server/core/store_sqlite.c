/*
 * store_sqlite.c - the SQLite backend of store.h: one database file, <data-dir>/airlift.db.
 *
 * WAL journal (readers never block the writer), synchronous=FULL (a committed change
 * survives power loss), foreign keys on, a busy timeout so a second process waits instead of
 * failing. One connection guarded by a mutex: every operation is short, and the management
 * API is far from SQLite's limits; the PostgreSQL backend is for scale-out.
 *
 * Schema changes are migrations: an ordered list of SQL scripts, each applied once, in its
 * own transaction, and recorded in schema_version. Opening is idempotent; a database written
 * by a newer airliftd (unknown migration numbers) is refused rather than misread.
 */
#include "store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

#define BUSY_TIMEOUT_MS 5000

/* Migration N is migrations[N - 1]. Append only: never edit a released migration. */
static const char *const migrations[] = {
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
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

struct sqlite_store {
    struct ald_store base; /* first: callers see a struct ald_store */
    sqlite3 *db;
    pthread_mutex_t lock;
};

static struct sqlite_store *S(struct ald_store *st)
{
    return (struct sqlite_store *)st;
}

int ald_store_sqlite_latest_schema(void)
{
    return MIGRATION_COUNT;
}

/* Log the connection's last error for `what` and return ALD_STORE_ERROR. */
static enum ald_store_rc db_fail(struct sqlite_store *s, const char *what)
{
    ald_log(ALD_LOG_ERROR, "database error", "op", what, "error", sqlite3_errmsg(s->db), NULL);
    return ALD_STORE_ERROR;
}

/* Prepare sql; on failure logs and returns NULL. */
static sqlite3_stmt *prep(struct sqlite_store *s, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        db_fail(s, sql);
        return NULL;
    }
    return stmt;
}

/* Copy text column i into out[cap]; false if NULL-safe copy would truncate. NULL -> "". */
static bool col_text(sqlite3_stmt *stmt, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(stmt, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(stmt, i) : 0;
    if (n >= cap)
        return false;
    if (n)
        memcpy(out, t, n);
    out[n] = '\0';
    return true;
}

static bool is_unique_violation(struct sqlite_store *s)
{
    int ext = sqlite3_extended_errcode(s->db);
    return ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY;
}

/* Run a step that must finish (INSERT/UPDATE/DELETE): OK, EXISTS on a unique key, or ERROR. */
static enum ald_store_rc step_done(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE)
        return ALD_STORE_OK;
    if ((rc & 0xff) == SQLITE_CONSTRAINT && is_unique_violation(s))
        return ALD_STORE_EXISTS;
    return db_fail(s, what);
}

/* ---- migrations ---- */

static int current_version(struct sqlite_store *s, int *out)
{
    sqlite3_stmt *stmt = prep(s, "SELECT coalesce(max(version), 0) FROM schema_version");
    int rc = -1;
    if (!stmt)
        goto out;
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        db_fail(s, "schema_version");
        goto out;
    }
    *out = sqlite3_column_int(stmt, 0);
    rc = 0;
out:
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * Bring the schema up to date: each pending migration inside its own IMMEDIATE transaction
 * (so two processes opening at once apply it once). Returns 0, or -1 with err set.
 */
static int migrate(struct sqlite_store *s, char *err, size_t errlen)
{
    char *msg = NULL;
    int version = 0, rc = -1;
    bool in_tx = false;

    if (sqlite3_exec(s->db,
                     "CREATE TABLE IF NOT EXISTS schema_version ("
                     "  version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                     NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create schema_version: %s", msg ? msg : "?");
        goto out;
    }
    for (;;) {
        char record[128], vstr[16];
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "cannot begin migration: %s", msg ? msg : "?");
            goto out;
        }
        in_tx = true;
        if (current_version(s, &version) != 0) {
            snprintf(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(s->db));
            goto out;
        }
        if (version > MIGRATION_COUNT) {
            snprintf(err, errlen,
                     "database schema %d is newer than this airliftd knows (%d): upgrade "
                     "airliftd", version, MIGRATION_COUNT);
            goto out;
        }
        if (version == MIGRATION_COUNT)
            break;
        if (sqlite3_exec(s->db, migrations[version], NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "migration %d failed: %s", version + 1, msg ? msg : "?");
            goto out;
        }
        snprintf(record, sizeof record,
                 "INSERT INTO schema_version(version, applied_at) VALUES (%d, %lld)",
                 version + 1, (long long)ald_now_ms());
        if (sqlite3_exec(s->db, record, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "migration %d not recorded: %s", version + 1, msg ? msg : "?");
            goto out;
        }
        in_tx = false;
        snprintf(vstr, sizeof vstr, "%d", version + 1);
        ald_log(ALD_LOG_INFO, "schema migrated", "version", vstr, NULL);
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot commit: %s", msg ? msg : "?");
        goto out;
    }
    in_tx = false;
    rc = 0;
out:
    if (in_tx)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_free(msg);
    return rc;
}

/* ---- operations ---- */

static void op_close(struct ald_store *st)
{
    struct sqlite_store *s = S(st);
    if (!s)
        return;
    if (sqlite3_close(s->db) != SQLITE_OK)
        ald_log(ALD_LOG_ERROR, "database close failed", "error", sqlite3_errmsg(s->db), NULL);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static enum ald_store_rc op_schema_version(struct ald_store *st, int *out)
{
    struct sqlite_store *s = S(st);
    enum ald_store_rc rc;
    pthread_mutex_lock(&s->lock);
    rc = current_version(s, out) == 0 ? ALD_STORE_OK : ALD_STORE_ERROR;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

#define TOKEN_COLS "id, name, sha256, scope, created_at, coalesce(last_used_at, 0), revoked"

static bool read_token(sqlite3_stmt *stmt, struct ald_token_rec *t)
{
    char scope[16];
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(stmt, 0);
    if (!col_text(stmt, 1, t->name, sizeof t->name) || sqlite3_column_bytes(stmt, 2) != 32 ||
        !col_text(stmt, 3, scope, sizeof scope))
        return false;
    memcpy(t->sha256, sqlite3_column_blob(stmt, 2), 32);
    t->scope = ald_scope_parse(scope);
    t->created_at = sqlite3_column_int64(stmt, 4);
    t->last_used_at = sqlite3_column_int64(stmt, 5);
    t->revoked = sqlite3_column_int(stmt, 6) != 0;
    return t->scope != 0;
}

static enum ald_store_rc op_token_create(struct ald_store *st, struct ald_token_rec *rec)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "INSERT INTO api_tokens(name, sha256, scope, created_at) VALUES (?,?,?,?)");
    if (!stmt)
        goto out;
    rec->created_at = ald_now_ms();
    sqlite3_bind_text(stmt, 1, rec->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 2, rec->sha256, 32, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, ald_scope_name(rec->scope), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, rec->created_at);
    rc = step_done(s, stmt, "token_create");
    if (rc == ALD_STORE_OK)
        rec->id = sqlite3_last_insert_rowid(s->db);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Run a query expected to return at most one row, reading it with `read`. */
static enum ald_store_rc query_one(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                                   bool (*read)(sqlite3_stmt *, void *), void *out)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE)
        return ALD_STORE_NOT_FOUND;
    if (rc != SQLITE_ROW)
        return db_fail(s, what);
    if (!read(stmt, out)) {
        ald_log(ALD_LOG_ERROR, "database row does not fit its record", "op", what, NULL);
        return ALD_STORE_ERROR;
    }
    return ALD_STORE_OK;
}

static bool read_token_v(sqlite3_stmt *stmt, void *out)
{
    return read_token(stmt, out);
}

static enum ald_store_rc op_token_by_hash(struct ald_store *st, const uint8_t sha256[32],
                                          struct ald_token_rec *out)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "SELECT " TOKEN_COLS " FROM api_tokens WHERE sha256 = ?");
    if (!stmt)
        goto out;
    sqlite3_bind_blob(stmt, 1, sha256, 32, SQLITE_TRANSIENT);
    rc = query_one(s, stmt, "token_by_hash", read_token_v, out);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_token_get(struct ald_store *st, int64_t id, struct ald_token_rec *out)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "SELECT " TOKEN_COLS " FROM api_tokens WHERE id = ?");
    if (!stmt)
        goto out;
    sqlite3_bind_int64(stmt, 1, id);
    rc = query_one(s, stmt, "token_get", read_token_v, out);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* UPDATE/DELETE by one key: OK if a row changed, NOT_FOUND if none. */
static enum ald_store_rc change_one(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what)
{
    enum ald_store_rc rc = step_done(s, stmt, what);
    if (rc == ALD_STORE_OK && sqlite3_changes(s->db) == 0)
        rc = ALD_STORE_NOT_FOUND;
    return rc;
}

static enum ald_store_rc op_token_touch(struct ald_store *st, int64_t id, int64_t now)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    /* At most one write a minute per token: reads must not turn into a write storm. */
    stmt = prep(s, "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2 AND "
                   "(last_used_at IS NULL OR last_used_at < ?1 - 60000)");
    if (!stmt)
        goto out;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, id);
    rc = step_done(s, stmt, "token_touch");
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_token_revoke(struct ald_store *st, int64_t id)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "UPDATE api_tokens SET revoked = 1 WHERE id = ?");
    if (!stmt)
        goto out;
    sqlite3_bind_int64(stmt, 1, id);
    rc = change_one(s, stmt, "token_revoke");
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/*
 * Stream the rows of stmt into cb through a record of rec_size bytes read by `read`. The
 * record is heap-allocated (device records are large) and freed here.
 */
static enum ald_store_rc list_rows(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                                   size_t rec_size, bool (*read)(sqlite3_stmt *, void *),
                                   int (*cb)(void *, const void *), void *ctx)
{
    enum ald_store_rc rc = ALD_STORE_ERROR;
    void *rec = malloc(rec_size);
    int step;
    if (!rec)
        goto out;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!read(stmt, rec)) {
            ald_log(ALD_LOG_ERROR, "database row does not fit its record", "op", what, NULL);
            goto out;
        }
        if (cb(ctx, rec) != 0)
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        db_fail(s, what);
        goto out;
    }
    rc = ALD_STORE_OK;
out:
    free(rec);
    return rc;
}

static enum ald_store_rc op_token_list(struct ald_store *st, ald_token_cb cb, void *ctx)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "SELECT " TOKEN_COLS " FROM api_tokens ORDER BY id");
    if (!stmt)
        goto out;
    rc = list_rows(s, stmt, "token_list", sizeof(struct ald_token_rec), read_token_v,
                   (int (*)(void *, const void *))cb, ctx);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

#define DEVICE_COLS                                                                            \
    "id, name, psk_identity, psk, platform, dev, coalesce(product_id, 0), created_at, "       \
    "coalesce(last_seen_at, 0), coalesce(inventory, ''), coalesce(reported_at, 0), "          \
    "next_checkin_at, bytes_tx, bytes_rx, groups, channel, pinned"

static bool read_device_v(sqlite3_stmt *stmt, void *out)
{
    struct ald_device_rec *d = out;
    int psk_len = sqlite3_column_bytes(stmt, 3);
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(stmt, 0);
    if (!col_text(stmt, 1, d->name, sizeof d->name) ||
        !col_text(stmt, 2, d->identity, sizeof d->identity) || psk_len <= 0 ||
        psk_len > ALD_PSK_MAX_LEN || !col_text(stmt, 9, d->inventory, sizeof d->inventory) ||
        !col_text(stmt, 14, d->groups_json, sizeof d->groups_json) ||
        !col_text(stmt, 15, d->channel, sizeof d->channel) ||
        !col_text(stmt, 16, d->pinned, sizeof d->pinned))
        return false;
    memcpy(d->psk, sqlite3_column_blob(stmt, 3), (size_t)psk_len);
    d->psk_len = (size_t)psk_len;
    d->platform = (uint16_t)sqlite3_column_int(stmt, 4);
    d->dev = sqlite3_column_int(stmt, 5) != 0;
    d->product_id = sqlite3_column_int64(stmt, 6);
    d->created_at = sqlite3_column_int64(stmt, 7);
    d->last_seen_at = sqlite3_column_int64(stmt, 8);
    d->reported_at = sqlite3_column_int64(stmt, 10);
    d->next_checkin_at = sqlite3_column_int64(stmt, 11);
    d->bytes_tx = (uint64_t)sqlite3_column_int64(stmt, 12);
    d->bytes_rx = (uint64_t)sqlite3_column_int64(stmt, 13);
    return true;
}

static enum ald_store_rc op_device_create(struct ald_store *st, struct ald_device_rec *rec)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    if (rec->psk_len == 0 || rec->psk_len > ALD_PSK_MAX_LEN)
        goto out;
    stmt = prep(s, "INSERT INTO devices(name, psk_identity, psk, platform, dev, product_id, "
                   "created_at) VALUES (?,?,?,?,?,?,?)");
    if (!stmt)
        goto out;
    rec->created_at = ald_now_ms();
    sqlite3_bind_text(stmt, 1, rec->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, rec->identity, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 3, rec->psk, (int)rec->psk_len, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 4, rec->platform);
    sqlite3_bind_int(stmt, 5, rec->dev ? 1 : 0);
    if (rec->product_id)
        sqlite3_bind_int64(stmt, 6, rec->product_id);
    else
        sqlite3_bind_null(stmt, 6);
    sqlite3_bind_int64(stmt, 7, rec->created_at);
    rc = step_done(s, stmt, "device_create");
    if (rc == ALD_STORE_OK)
        rec->id = sqlite3_last_insert_rowid(s->db);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* SELECT one device WHERE <column> = key. */
static enum ald_store_rc device_by(struct ald_store *st, const char *sql, const char *key,
                                   struct ald_device_rec *out)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, sql);
    if (!stmt)
        goto out;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
    rc = query_one(s, stmt, "device_get", read_device_v, out);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_device_get(struct ald_store *st, const char *name,
                                       struct ald_device_rec *out)
{
    return device_by(st, "SELECT " DEVICE_COLS " FROM devices WHERE name = ?", name, out);
}

static enum ald_store_rc op_device_by_identity(struct ald_store *st, const char *identity,
                                               struct ald_device_rec *out)
{
    return device_by(st, "SELECT " DEVICE_COLS " FROM devices WHERE psk_identity = ?", identity,
                     out);
}

static enum ald_store_rc op_device_report(struct ald_store *st, const char *name,
                                          const char *inventory_json, int64_t now)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    if (strlen(inventory_json) >= ALD_INVENTORY_MAX)
        goto out;
    stmt = prep(s, "UPDATE devices SET inventory = ?1, reported_at = ?2, last_seen_at = ?2 "
                   "WHERE name = ?3");
    if (!stmt)
        goto out;
    sqlite3_bind_text(stmt, 1, inventory_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    sqlite3_bind_text(stmt, 3, name, -1, SQLITE_TRANSIENT);
    rc = change_one(s, stmt, "device_report");
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_device_delete(struct ald_store *st, const char *name)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "DELETE FROM devices WHERE name = ?");
    if (!stmt)
        goto out;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    rc = change_one(s, stmt, "device_delete");
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_device_list(struct ald_store *st, ald_device_cb cb, void *ctx)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "SELECT " DEVICE_COLS " FROM devices ORDER BY name");
    if (!stmt)
        goto out;
    rc = list_rows(s, stmt, "device_list", sizeof(struct ald_device_rec), read_device_v,
                   (int (*)(void *, const void *))cb, ctx);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

#define IMAGE_COLS                                                                             \
    "sha256, function, module_index, platform, version, version_key, security_counter, "      \
    "link_address, payload_size, file_size, key_id, deps, created_at"

static bool read_image_v(sqlite3_stmt *stmt, void *out)
{
    struct ald_image_rec *m = out;
    memset(m, 0, sizeof *m);
    if (!col_text(stmt, 0, m->sha256, sizeof m->sha256) ||
        !col_text(stmt, 4, m->version, sizeof m->version) ||
        !col_text(stmt, 5, m->version_key, sizeof m->version_key) ||
        !col_text(stmt, 10, m->key_id, sizeof m->key_id) ||
        !col_text(stmt, 11, m->deps_json, sizeof m->deps_json))
        return false;
    m->function = (uint8_t)sqlite3_column_int(stmt, 1);
    m->index = (uint8_t)sqlite3_column_int(stmt, 2);
    m->platform = (uint16_t)sqlite3_column_int(stmt, 3);
    m->security_counter = (uint32_t)sqlite3_column_int64(stmt, 6);
    m->link_address = (uint32_t)sqlite3_column_int64(stmt, 7);
    m->payload_size = (uint32_t)sqlite3_column_int64(stmt, 8);
    m->file_size = (uint64_t)sqlite3_column_int64(stmt, 9);
    m->created_at = sqlite3_column_int64(stmt, 12);
    return true;
}

static enum ald_store_rc op_image_put(struct ald_store *st, struct ald_image_rec *rec)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "INSERT INTO images(" IMAGE_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!stmt)
        goto out;
    if (!rec->created_at)
        rec->created_at = ald_now_ms();
    sqlite3_bind_text(stmt, 1, rec->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, rec->function);
    sqlite3_bind_int(stmt, 3, rec->index);
    sqlite3_bind_int(stmt, 4, rec->platform);
    sqlite3_bind_text(stmt, 5, rec->version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 6, rec->version_key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 7, rec->security_counter);
    sqlite3_bind_int64(stmt, 8, rec->link_address);
    sqlite3_bind_int64(stmt, 9, rec->payload_size);
    sqlite3_bind_int64(stmt, 10, (sqlite3_int64)rec->file_size);
    sqlite3_bind_text(stmt, 11, rec->key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 12, rec->deps_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 13, rec->created_at);
    rc = step_done(s, stmt, "image_put");
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_image_get(struct ald_store *st, const char *sha256,
                                      struct ald_image_rec *out)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "SELECT " IMAGE_COLS " FROM images WHERE sha256 = ?");
    if (!stmt)
        goto out;
    sqlite3_bind_text(stmt, 1, sha256, -1, SQLITE_TRANSIENT);
    rc = query_one(s, stmt, "image_get", read_image_v, out);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_image_list(struct ald_store *st, ald_image_cb cb, void *ctx)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "SELECT " IMAGE_COLS " FROM images "
                   "ORDER BY platform, function, module_index, version_key, sha256");
    if (!stmt)
        goto out;
    rc = list_rows(s, stmt, "image_list", sizeof(struct ald_image_rec), read_image_v,
                   (int (*)(void *, const void *))cb, ctx);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

#define EVENT_COLS "id, ts, coalesce(device, ''), coalesce(update_id, 0), type, data, " \
                   "coalesce(rollout_id, 0)"

static bool read_event_v(sqlite3_stmt *stmt, void *out)
{
    struct ald_event_rec *e = out;
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(stmt, 0);
    e->ts = sqlite3_column_int64(stmt, 1);
    e->update_id = sqlite3_column_int64(stmt, 3);
    e->rollout_id = sqlite3_column_int64(stmt, 6);
    return col_text(stmt, 2, e->device, sizeof e->device) &&
           col_text(stmt, 4, e->type, sizeof e->type) &&
           col_text(stmt, 5, e->data, sizeof e->data);
}

/* Bind v to parameter i, or NULL for 0 (ids) / "" (texts): "none" is NULL in the table. */
static void bind_id_or_null(sqlite3_stmt *stmt, int i, int64_t v)
{
    if (v)
        sqlite3_bind_int64(stmt, i, v);
    else
        sqlite3_bind_null(stmt, i);
}

static void bind_text_or_null(sqlite3_stmt *stmt, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(stmt, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, i);
}

static enum ald_store_rc op_event_append(struct ald_store *st, struct ald_event_rec *rec)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    stmt = prep(s, "INSERT INTO events(ts, device, update_id, type, data, rollout_id) "
                   "VALUES (?,?,?,?,?,?)");
    if (!stmt)
        goto out;
    if (!rec->ts)
        rec->ts = ald_now_ms();
    sqlite3_bind_int64(stmt, 1, rec->ts);
    bind_text_or_null(stmt, 2, rec->device);
    bind_id_or_null(stmt, 3, rec->update_id);
    sqlite3_bind_text(stmt, 4, rec->type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, rec->data[0] ? rec->data : "{}", -1, SQLITE_TRANSIENT);
    bind_id_or_null(stmt, 6, rec->rollout_id);
    rc = step_done(s, stmt, "event_append");
    if (rc == ALD_STORE_OK)
        rec->id = sqlite3_last_insert_rowid(s->db);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_event_list(struct ald_store *st, const struct ald_event_filter *f,
                                       ald_event_cb cb, void *ctx)
{
    struct sqlite_store *s = S(st);
    sqlite3_stmt *stmt = NULL;
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    /* The prefix compares bytes (substr), not LIKE: no wildcards, case-sensitive. */
    stmt = prep(s, "SELECT " EVENT_COLS " FROM events WHERE id > ?1 "
                   "AND (?2 IS NULL OR device = ?2) AND (?4 IS NULL OR update_id = ?4) "
                   "AND (?5 IS NULL OR rollout_id = ?5) "
                   "AND (?6 IS NULL OR substr(type, 1, length(?6)) = ?6) "
                   "ORDER BY id LIMIT ?3");
    if (!stmt)
        goto out;
    sqlite3_bind_int64(stmt, 1, f->after_id);
    if (f->device)
        sqlite3_bind_text(stmt, 2, f->device, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, 2);
    sqlite3_bind_int64(stmt, 3, f->limit ? (sqlite3_int64)f->limit : -1);
    bind_id_or_null(stmt, 4, f->update_id);
    bind_id_or_null(stmt, 5, f->rollout_id);
    bind_text_or_null(stmt, 6, f->type_prefix);
    rc = list_rows(s, stmt, "event_list", sizeof(struct ald_event_rec), read_event_v,
                   (int (*)(void *, const void *))cb, ctx);
out:
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_event_last_id(struct ald_store *st, int64_t *out)
{
    struct sqlite_store *s = S(st);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = prep(s, "SELECT coalesce(max(id), 0) FROM events");
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
        *out = sqlite3_column_int64(stmt, 0);
        rc = ALD_STORE_OK;
    } else if (stmt) {
        db_fail(s, "event_last_id");
    }
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- device liveness, updates ---- */

/*
 * Prepare sql and bind its parameters in order from fmt: 'i' int64_t, 'u' uint64_t (stored
 * as a signed 64-bit integer), 't' text (NUL-terminated). NULL if preparing failed (logged).
 */
static sqlite3_stmt *prep_bind(struct sqlite_store *s, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *stmt = prep(s, sql);
    va_list ap;
    if (!stmt)
        return NULL;
    va_start(ap, fmt);
    for (int i = 1; fmt[i - 1]; i++) {
        switch (fmt[i - 1]) {
        case 'i':
            sqlite3_bind_int64(stmt, i, va_arg(ap, int64_t));
            break;
        case 'u':
            sqlite3_bind_int64(stmt, i, (sqlite3_int64)va_arg(ap, uint64_t));
            break;
        default:
            sqlite3_bind_text(stmt, i, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
            break;
        }
    }
    va_end(ap);
    return stmt;
}

static enum ald_store_rc op_device_seen(struct ald_store *st, int64_t device_id, int64_t now,
                                        uint64_t tx, uint64_t rx, int64_t update_id)
{
    struct sqlite_store *s = S(st);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = prep_bind(s,
        "UPDATE devices SET last_seen_at = ?1, bytes_tx = bytes_tx + ?2, "
        "bytes_rx = bytes_rx + ?3 WHERE id = ?4", "iuui", now, tx, rx, device_id);
    if (stmt)
        rc = change_one(s, stmt, "device_seen");
    sqlite3_finalize(stmt);
    if (rc == ALD_STORE_OK && update_id && (tx || rx)) {
        stmt = prep_bind(s, "UPDATE updates SET bytes_tx = bytes_tx + ?1, "
                            "bytes_rx = bytes_rx + ?2 WHERE id = ?3", "uui", tx, rx, update_id);
        rc = stmt ? step_done(s, stmt, "update_bytes") : ALD_STORE_ERROR;
        sqlite3_finalize(stmt);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_device_checkin(struct ald_store *st, int64_t device_id,
                                           int64_t next_checkin_at)
{
    struct sqlite_store *s = S(st);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = prep_bind(s, "UPDATE devices SET next_checkin_at = ?1 WHERE id = ?2",
                                   "ii", next_checkin_at, device_id);
    if (stmt)
        rc = change_one(s, stmt, "device_checkin");
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

#define UPDATE_COLS                                                                            \
    "u.id, u.device_id, d.name, u.state, u.wanted, u.steps, u.estimate_only, u.plan_id, "      \
    "u.step, u.xfer_offset, u.done_bytes, u.total_bytes, u.wire_estimate, u.bytes_tx, "        \
    "u.bytes_rx, u.result, u.why, u.created_at, u.started_at, u.updated_at, u.finished_at, "   \
    "u.full_only, coalesce(u.rollout_id, 0) FROM updates u JOIN devices d ON d.id = u.device_id"
#define UPDATE_FINAL "('succeeded', 'failed', 'reverted', 'cancelled')"

static bool read_update_v(sqlite3_stmt *stmt, void *out)
{
    struct ald_update_rec *u = out;
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(stmt, 0);
    u->device_id = sqlite3_column_int64(stmt, 1);
    if (!col_text(stmt, 2, u->device, sizeof u->device) ||
        !col_text(stmt, 3, u->state, sizeof u->state) ||
        !col_text(stmt, 4, u->wanted_json, sizeof u->wanted_json) ||
        !col_text(stmt, 5, u->steps_json, sizeof u->steps_json) ||
        !col_text(stmt, 15, u->result, sizeof u->result) ||
        !col_text(stmt, 16, u->why, sizeof u->why))
        return false;
    u->estimate_only = sqlite3_column_int(stmt, 6) != 0;
    u->plan_id = (uint32_t)sqlite3_column_int64(stmt, 7);
    u->step = (uint32_t)sqlite3_column_int64(stmt, 8);
    u->offset = (uint32_t)sqlite3_column_int64(stmt, 9);
    u->done_bytes = (uint64_t)sqlite3_column_int64(stmt, 10);
    u->total_bytes = (uint64_t)sqlite3_column_int64(stmt, 11);
    u->wire_estimate = (uint64_t)sqlite3_column_int64(stmt, 12);
    u->bytes_tx = (uint64_t)sqlite3_column_int64(stmt, 13);
    u->bytes_rx = (uint64_t)sqlite3_column_int64(stmt, 14);
    u->created_at = sqlite3_column_int64(stmt, 17);
    u->started_at = sqlite3_column_int64(stmt, 18);
    u->updated_at = sqlite3_column_int64(stmt, 19);
    u->finished_at = sqlite3_column_int64(stmt, 20);
    u->full_only = sqlite3_column_int(stmt, 21) != 0;
    u->rollout_id = sqlite3_column_int64(stmt, 22);
    return true;
}

static enum ald_store_rc op_update_create(struct ald_store *st, struct ald_update_rec *rec)
{
    struct sqlite_store *s = S(st);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    rec->created_at = rec->updated_at = ald_now_ms();
    sqlite3_stmt *stmt = prep_bind(s,
        "INSERT INTO updates(device_id, state, wanted, steps, estimate_only, total_bytes, "
        "wire_estimate, created_at, updated_at, rollout_id) VALUES (?,?,?,?,?,?,?,?,?,"
        "nullif(?, 0))", "itttiuuiii",
        rec->device_id, rec->state, rec->wanted_json, rec->steps_json,
        (int64_t)rec->estimate_only, rec->total_bytes, rec->wire_estimate, rec->created_at,
        rec->updated_at, rec->rollout_id);
    if (stmt)
        rc = step_done(s, stmt, "update_create");
    if (rc == ALD_STORE_OK)
        rec->id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_update_save(struct ald_store *st, const struct ald_update_rec *u)
{
    struct sqlite_store *s = S(st);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = prep_bind(s,
        "UPDATE updates SET state = ?, wanted = ?, steps = ?, estimate_only = ?, plan_id = ?, "
        "step = ?, xfer_offset = ?, done_bytes = ?, total_bytes = ?, wire_estimate = ?, "
        "result = ?, why = ?, started_at = ?, updated_at = ?, finished_at = ?, full_only = ? "
        "WHERE id = ?",
        "tttiiiiuuuttiiiii", u->state, u->wanted_json, u->steps_json, (int64_t)u->estimate_only,
        (int64_t)u->plan_id, (int64_t)u->step, (int64_t)u->offset, u->done_bytes,
        u->total_bytes, u->wire_estimate, u->result, u->why, u->started_at, u->updated_at,
        u->finished_at, (int64_t)u->full_only, u->id);
    if (stmt)
        rc = change_one(s, stmt, "update_save");
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc update_one(struct ald_store *st, const char *sql, int64_t key,
                                    struct ald_update_rec *out)
{
    struct sqlite_store *s = S(st);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = prep_bind(s, sql, "i", key);
    if (stmt)
        rc = query_one(s, stmt, "update_get", read_update_v, out);
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_update_get(struct ald_store *st, int64_t id, struct ald_update_rec *out)
{
    return update_one(st, "SELECT " UPDATE_COLS " WHERE u.id = ?", id, out);
}

static enum ald_store_rc op_update_active(struct ald_store *st, int64_t device_id,
                                          struct ald_update_rec *out)
{
    return update_one(st, "SELECT " UPDATE_COLS " WHERE u.device_id = ? AND u.state NOT IN "
                      UPDATE_FINAL, device_id, out);
}

static enum ald_store_rc op_update_list(struct ald_store *st, int64_t device_id, size_t limit,
                                        ald_update_cb cb, void *ctx)
{
    struct sqlite_store *s = S(st);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = prep_bind(s, "SELECT " UPDATE_COLS " WHERE u.device_id = ? "
                                   "ORDER BY u.id DESC LIMIT ?", "ii", device_id,
                                   limit ? (int64_t)limit : (int64_t)-1);
    if (stmt)
        rc = list_rows(s, stmt, "update_list", sizeof(struct ald_update_rec), read_update_v,
                       (int (*)(void *, const void *))cb, ctx);
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- fleets ---- */

/* One statement that changes rows, under the lock: OK, EXISTS or ERROR. Fills *id with the
 * new row's id if id is not NULL. */
static enum ald_store_rc exec_change(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                                     int64_t *id)
{
    enum ald_store_rc rc = stmt ? step_done(s, stmt, what) : ALD_STORE_ERROR;
    if (rc == ALD_STORE_OK && id)
        *id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(stmt);
    return rc;
}

static bool read_product_v(sqlite3_stmt *stmt, void *out)
{
    struct ald_product_rec *p = out;
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(stmt, 0);
    p->platform = (uint16_t)sqlite3_column_int(stmt, 2);
    p->created_at = sqlite3_column_int64(stmt, 3);
    return col_text(stmt, 1, p->name, sizeof p->name);
}

static bool read_release_v(sqlite3_stmt *stmt, void *out)
{
    struct ald_release_rec *r = out;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(stmt, 0);
    r->product_id = sqlite3_column_int64(stmt, 1);
    r->created_at = sqlite3_column_int64(stmt, 6);
    return col_text(stmt, 2, r->version, sizeof r->version) &&
           col_text(stmt, 3, r->channel, sizeof r->channel) &&
           col_text(stmt, 4, r->images_json, sizeof r->images_json) &&
           col_text(stmt, 5, r->notes, sizeof r->notes);
}

static bool read_rollout_v(sqlite3_stmt *stmt, void *out)
{
    struct ald_rollout_rec *r = out;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(stmt, 0);
    r->release_id = sqlite3_column_int64(stmt, 1);
    r->success_percent = sqlite3_column_int(stmt, 4);
    r->error_count = sqlite3_column_int(stmt, 5);
    r->error_percent = sqlite3_column_int(stmt, 6);
    r->rate_per_min = sqlite3_column_int(stmt, 7);
    r->budget_bytes_per_day = (uint64_t)sqlite3_column_int64(stmt, 8);
    r->created_at = sqlite3_column_int64(stmt, 11);
    r->updated_at = sqlite3_column_int64(stmt, 12);
    r->finished_at = sqlite3_column_int64(stmt, 13);
    return col_text(stmt, 2, r->target_json, sizeof r->target_json) &&
           col_text(stmt, 3, r->waves_json, sizeof r->waves_json) &&
           col_text(stmt, 9, r->state, sizeof r->state) &&
           col_text(stmt, 10, r->why, sizeof r->why);
}

static bool read_rollout_device_v(sqlite3_stmt *stmt, void *out)
{
    struct ald_rollout_device_rec *r = out;
    memset(r, 0, sizeof *r);
    r->rollout_id = sqlite3_column_int64(stmt, 0);
    r->device_id = sqlite3_column_int64(stmt, 1);
    r->wave = sqlite3_column_int(stmt, 3);
    r->update_id = sqlite3_column_int64(stmt, 5);
    r->started_at = sqlite3_column_int64(stmt, 6);
    r->finished_at = sqlite3_column_int64(stmt, 7);
    return col_text(stmt, 2, r->device, sizeof r->device) &&
           col_text(stmt, 4, r->state, sizeof r->state);
}

#define PRODUCT_COLS "id, name, platform, created_at FROM products"
#define RELEASE_COLS "id, product_id, version, channel, images, notes, created_at FROM releases"
#define ROLLOUT_COLS                                                                            \
    "id, release_id, target, waves, success_percent, error_count, error_percent, rate_per_min, " \
    "budget_bytes_per_day, state, why, created_at, updated_at, finished_at FROM rollouts"

/* Run a query that reads one row (one == true) or calls cb on each, under the lock. */
static enum ald_store_rc fleet_read(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                                    bool (*read)(sqlite3_stmt *, void *), size_t rec_size,
                                    void *one, int (*cb)(void *, const void *), void *ctx)
{
    enum ald_store_rc rc = ALD_STORE_ERROR;
    if (stmt)
        rc = one ? query_one(s, stmt, what, read, one)
                 : list_rows(s, stmt, what, rec_size, read, cb, ctx);
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_product_create(struct ald_store *st, struct ald_product_rec *rec)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    rec->created_at = ald_now_ms();
    enum ald_store_rc rc = exec_change(s, prep_bind(s,
        "INSERT INTO products(name, platform, created_at) VALUES (?,?,?)", "tii", rec->name,
        (int64_t)rec->platform, rec->created_at), "product_create", &rec->id);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_product_get(struct ald_store *st, const char *name,
                                        struct ald_product_rec *out)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    return fleet_read(s, prep_bind(s, "SELECT " PRODUCT_COLS " WHERE name = ?", "t", name),
                      "product_get", read_product_v, 0, out, NULL, NULL);
}

static enum ald_store_rc op_product_get_id(struct ald_store *st, int64_t id,
                                           struct ald_product_rec *out)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    return fleet_read(s, prep_bind(s, "SELECT " PRODUCT_COLS " WHERE id = ?", "i", id),
                      "product_get_id", read_product_v, 0, out, NULL, NULL);
}

static enum ald_store_rc op_product_list(struct ald_store *st, ald_product_cb cb, void *ctx)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    return fleet_read(s, prep(s, "SELECT " PRODUCT_COLS " ORDER BY name"), "product_list",
                      read_product_v, sizeof(struct ald_product_rec), NULL,
                      (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_device_set_fleet(struct ald_store *st, const struct ald_device_rec *d)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = prep_bind(s,
        "UPDATE devices SET product_id = nullif(?, 0), groups = ?, channel = ?, pinned = ?, "
        "dev = ? WHERE id = ?", "itttii", d->product_id, d->groups_json, d->channel, d->pinned,
        (int64_t)d->dev, d->id);
    enum ald_store_rc rc = stmt ? change_one(s, stmt, "device_set_fleet") : ALD_STORE_ERROR;
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_release_create(struct ald_store *st, struct ald_release_rec *rec)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    rec->created_at = ald_now_ms();
    enum ald_store_rc rc = exec_change(s, prep_bind(s,
        "INSERT INTO releases(product_id, version, channel, images, notes, created_at) "
        "VALUES (?,?,?,?,?,?)", "itttti", rec->product_id,
        rec->version, rec->channel, rec->images_json, rec->notes, rec->created_at),
        "release_create", &rec->id);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_release_get(struct ald_store *st, int64_t product_id,
                                        const char *version, struct ald_release_rec *out)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    return fleet_read(s, prep_bind(s, "SELECT " RELEASE_COLS " WHERE product_id = ? AND version = ?",
                                   "it", product_id, version),
                      "release_get", read_release_v, 0, out, NULL, NULL);
}

static enum ald_store_rc op_release_get_id(struct ald_store *st, int64_t id,
                                           struct ald_release_rec *out)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    return fleet_read(s, prep_bind(s, "SELECT " RELEASE_COLS " WHERE id = ?", "i", id),
                      "release_get_id", read_release_v, 0, out, NULL, NULL);
}

static enum ald_store_rc op_release_list(struct ald_store *st, int64_t product_id,
                                         ald_release_cb cb, void *ctx)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    return fleet_read(s, prep_bind(s, "SELECT " RELEASE_COLS " WHERE product_id = ? ORDER BY id",
                                   "i", product_id),
                      "release_list", read_release_v, sizeof(struct ald_release_rec), NULL,
                      (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_rollout_create(struct ald_store *st, struct ald_rollout_rec *r)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    r->created_at = r->updated_at = ald_now_ms();
    enum ald_store_rc rc = exec_change(s, prep_bind(s,
        "INSERT INTO rollouts(release_id, target, waves, success_percent, error_count, "
        "error_percent, rate_per_min, budget_bytes_per_day, state, why, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", "ittiiiiuttii", r->release_id, r->target_json,
        r->waves_json, (int64_t)r->success_percent, (int64_t)r->error_count,
        (int64_t)r->error_percent, (int64_t)r->rate_per_min, r->budget_bytes_per_day, r->state,
        r->why, r->created_at, r->updated_at), "rollout_create", &r->id);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_rollout_save(struct ald_store *st, const struct ald_rollout_rec *r)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = prep_bind(s,
        "UPDATE rollouts SET state = ?, why = ?, updated_at = ?, finished_at = ? WHERE id = ?",
        "ttiii", r->state, r->why, r->updated_at, r->finished_at, r->id);
    enum ald_store_rc rc = stmt ? change_one(s, stmt, "rollout_save") : ALD_STORE_ERROR;
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_rollout_get(struct ald_store *st, int64_t id, struct ald_rollout_rec *out)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    return fleet_read(s, prep_bind(s, "SELECT " ROLLOUT_COLS " WHERE id = ?", "i", id),
                      "rollout_get", read_rollout_v, 0, out, NULL, NULL);
}

static enum ald_store_rc op_rollout_list(struct ald_store *st, ald_rollout_cb cb, void *ctx)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    return fleet_read(s, prep(s, "SELECT " ROLLOUT_COLS " ORDER BY id"), "rollout_list",
                      read_rollout_v, sizeof(struct ald_rollout_rec), NULL,
                      (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_rollout_device_put(struct ald_store *st,
                                               const struct ald_rollout_device_rec *r)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    enum ald_store_rc rc = exec_change(s, prep_bind(s,
        "INSERT OR REPLACE INTO rollout_devices(rollout_id, device_id, wave, state, update_id, "
        "started_at, finished_at) VALUES (?,?,?,?,nullif(?, 0),?,?)", "iiitiii", r->rollout_id,
        r->device_id, (int64_t)r->wave, r->state, r->update_id, r->started_at, r->finished_at),
        "rollout_device_put", NULL);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static enum ald_store_rc op_rollout_device_list(struct ald_store *st, int64_t rollout_id,
                                                ald_rollout_device_cb cb, void *ctx)
{
    struct sqlite_store *s = S(st);
    pthread_mutex_lock(&s->lock);
    return fleet_read(s, prep_bind(s,
        "SELECT r.rollout_id, r.device_id, d.name, r.wave, r.state, coalesce(r.update_id, 0), "
        "r.started_at, r.finished_at FROM rollout_devices r JOIN devices d ON d.id = r.device_id "
        "WHERE r.rollout_id = ? ORDER BY r.wave, d.name", "i", rollout_id),
        "rollout_device_list", read_rollout_device_v, sizeof(struct ald_rollout_device_rec), NULL,
        (int (*)(void *, const void *))cb, ctx);
}

static enum ald_store_rc op_auto_bytes(struct ald_store *st, int64_t device_id, int64_t since,
                                       uint64_t *out)
{
    struct sqlite_store *s = S(st);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = prep_bind(s,
        "SELECT coalesce(sum(bytes_tx + bytes_rx), 0) FROM updates WHERE device_id = ? AND "
        "rollout_id IS NOT NULL AND created_at >= ?", "ii", device_id, since);
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
        *out = (uint64_t)sqlite3_column_int64(stmt, 0);
        rc = ALD_STORE_OK;
    } else if (stmt) {
        rc = db_fail(s, "auto_bytes");
    }
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static const struct ald_store_ops sqlite_ops = {
    .backend = "sqlite",
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
};

/* Run a PRAGMA and check its one-row answer if expect is not NULL. */
static int pragma(sqlite3 *db, const char *sql, const char *expect, char *err, size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    const unsigned char *answer;
    int rc = -1, step;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", sql, sqlite3_errmsg(db));
        goto out;
    }
    step = sqlite3_step(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        snprintf(err, errlen, "%s: %s", sql, sqlite3_errmsg(db));
        goto out;
    }
    answer = step == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
    if (expect && (!answer || strcmp((const char *)answer, expect) != 0)) {
        snprintf(err, errlen, "%s: did not answer %s", sql, expect);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(stmt);
    return rc;
}

int ald_store_sqlite_open(const char *data_dir, struct ald_store **out, char *err, size_t errlen)
{
    struct sqlite_store *s = NULL;
    char path[4096];
    int rc = -1;

    *out = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/airlift.db", data_dir) >= sizeof path) {
        snprintf(err, errlen, "data directory path too long");
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    s->base.ops = &sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 1);
    if (pragma(s->db, "PRAGMA journal_mode = WAL", "wal", err, errlen) != 0 ||
        pragma(s->db, "PRAGMA synchronous = FULL", NULL, err, errlen) != 0 ||
        pragma(s->db, "PRAGMA foreign_keys = ON", NULL, err, errlen) != 0 ||
        pragma(s->db, "PRAGMA foreign_keys", "1", err, errlen) != 0)
        goto out;
    if (migrate(s, err, errlen) != 0)
        goto out;
    *out = &s->base;
    rc = 0;
out:
    if (rc != 0 && s) {
        sqlite3_close(s->db);
        pthread_mutex_destroy(&s->lock);
        free(s);
    }
    return rc;
}
