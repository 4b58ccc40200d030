/*
 * sqldb_sqlite.c - the SQLite driver of sqldb.h (ald_sqldb_sqlite).
 *
 * One connection per struct ald_sqldb, opened with: WAL journal (readers never block the
 * writer), synchronous=FULL (a committed change survives power loss), foreign keys on, a
 * busy timeout (a second process waits for the write lock instead of failing) and extended
 * result codes. Result codes map to ald_sql_rc: SQLITE_BUSY / SQLITE_LOCKED -> RETRY,
 * SQLITE_CONSTRAINT_* -> CONSTRAINT, anything else -> ERROR (SQLite has no GONE).
 *
 * The WAL is checkpointed by a thread of the connection's own (a second connection, PASSIVE,
 * every CHECKPOINT_MS), not by whichever commit crosses SQLite's 1000-page mark: that commit
 * would wait on the checkpoint's fsyncs while holding the store, and the device endpoint
 * with it (a reconnect storm then overflows its socket's buffer).
 *
 * Prepared statements are cached by SQL text (up to CACHE_MAX per connection): prepare hands
 * out a cached statement that is not in use, and finalize resets it and returns it to the
 * cache. The ?N placeholders of sqldb.h are SQLite's own syntax, so SQL passes unchanged.
 * listen and notify do nothing (one node); wait sleeps for the timeout and returns DONE.
 */
#include "sqldb.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 5000
#define CACHE_MAX 64
#define CHECKPOINT_MS 1000

struct ald_sqlstmt {
    struct ald_sqldb *db;
    sqlite3_stmt *stmt;
    char *sql;      /* the cache key; NULL for a statement outside the cache */
    uint32_t hash;
    bool in_use;
};

/* The checkpointer of one connection's database file. */
struct checkpointer {
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t stop_cond;
    bool stop;
};

struct ald_sqldb {
    sqlite3 *db;
    struct ald_sqlstmt *cache[CACHE_MAX];
    size_t cached;
    char msg[512]; /* errors raised by the driver itself */
    bool own_msg;
    struct checkpointer *ckpt; /* NULL for an in-memory database */
};

static uint32_t text_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Map an SQLite result code (extended or primary) to ald_sql_rc. */
static enum ald_sql_rc map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
        return ALD_SQL_OK;
    case SQLITE_ROW:
        return ALD_SQL_ROW;
    case SQLITE_DONE:
        return ALD_SQL_DONE;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ALD_SQL_RETRY;
    case SQLITE_CONSTRAINT:
        return ALD_SQL_CONSTRAINT;
    default:
        return ALD_SQL_ERROR;
    }
}

/* Record a driver-side error message on db and return ERROR. */
static enum ald_sql_rc own_error(struct ald_sqldb *db, const char *what)
{
    snprintf(db->msg, sizeof db->msg, "%s", what);
    db->own_msg = true;
    return ALD_SQL_ERROR;
}

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

static void *checkpoint_loop(void *arg)
{
    struct checkpointer *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(CHECKPOINT_MS % 1000) * 1000000L;
        ts.tv_sec += CHECKPOINT_MS / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&c->stop_cond, &c->lock, &ts);
        if (c->stop)
            break;
        pthread_mutex_unlock(&c->lock);
        /* PASSIVE: copies what no reader needs, never waits for a writer or a reader. */
        (void)sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void checkpointer_stop(struct checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->stop_cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->stop_cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* A checkpointer for the file behind main (WAL mode already set there); NULL on failure,
 * with err set. */
static struct checkpointer *checkpointer_start(const char *target, char *err, size_t errlen)
{
    struct checkpointer *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(target, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s for its checkpoints: %s", target,
                 c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->stop_cond, NULL);
    if (pthread_create(&c->thread, NULL, checkpoint_loop, c) != 0) {
        snprintf(err, errlen, "cannot start the checkpoint thread of %s", target);
        sqlite3_close(c->db);
        pthread_cond_destroy(&c->stop_cond);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    return c;
}

static void sq_close(struct ald_sqldb *db)
{
    if (!db)
        return;
    checkpointer_stop(db->ckpt);
    for (size_t i = 0; i < db->cached; i++) {
        sqlite3_finalize(db->cache[i]->stmt);
        free(db->cache[i]->sql);
        free(db->cache[i]);
    }
    sqlite3_close(db->db);
    free(db);
}

static enum ald_sql_rc sq_connect(const char *target, struct ald_sqldb **out, char *err,
                                  size_t errlen)
{
    struct ald_sqldb *db = calloc(1, sizeof *db);
    enum ald_sql_rc rc = ALD_SQL_ERROR;
    *out = NULL;
    if (!db) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (!target || !*target) {
        snprintf(err, errlen, "no SQLite database path given");
        goto out;
    }
    if (sqlite3_open_v2(target, &db->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", target,
                 db->db ? sqlite3_errmsg(db->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db->db, 1);
    if (pragma(db->db, "PRAGMA journal_mode = WAL", "wal", err, errlen) != 0 ||
        pragma(db->db, "PRAGMA synchronous = FULL", NULL, err, errlen) != 0 ||
        pragma(db->db, "PRAGMA foreign_keys = ON", NULL, err, errlen) != 0 ||
        pragma(db->db, "PRAGMA foreign_keys", "1", err, errlen) != 0)
        goto out;
    if (strcmp(target, ":memory:") != 0 && strncmp(target, "file::memory:", 13) != 0) {
        if (pragma(db->db, "PRAGMA wal_autocheckpoint = 0", NULL, err, errlen) != 0 ||
            !(db->ckpt = checkpointer_start(target, err, errlen)))
            goto out;
    }
    *out = db;
    db = NULL;
    rc = ALD_SQL_OK;
out:
    sq_close(db);
    return rc;
}

static enum ald_sql_rc sq_exec(struct ald_sqldb *db, const char *sql)
{
    db->own_msg = false;
    return map_rc(sqlite3_exec(db->db, sql, NULL, NULL, NULL));
}

static enum ald_sql_rc sq_prepare(struct ald_sqldb *db, const char *sql, struct ald_sqlstmt **out)
{
    uint32_t h = text_hash(sql);
    struct ald_sqlstmt *s;
    int rc;
    db->own_msg = false;
    *out = NULL;
    for (size_t i = 0; i < db->cached; i++) {
        s = db->cache[i];
        if (!s->in_use && s->hash == h && !strcmp(s->sql, sql)) {
            s->in_use = true;
            *out = s;
            return ALD_SQL_OK;
        }
    }
    s = calloc(1, sizeof *s);
    if (!s)
        return own_error(db, "out of memory");
    rc = sqlite3_prepare_v2(db->db, sql, -1, &s->stmt, NULL);
    if (rc != SQLITE_OK) {
        free(s);
        return map_rc(rc) == ALD_SQL_OK ? ALD_SQL_ERROR : map_rc(rc);
    }
    s->db = db;
    s->hash = h;
    s->in_use = true;
    if (db->cached < CACHE_MAX && (s->sql = strdup(sql)) != NULL)
        db->cache[db->cached++] = s;
    *out = s;
    return ALD_SQL_OK;
}

static enum ald_sql_rc bind_rc(struct ald_sqlstmt *s, int rc)
{
    (void)s;
    return rc == SQLITE_OK ? ALD_SQL_OK : map_rc(rc) == ALD_SQL_OK ? ALD_SQL_ERROR : map_rc(rc);
}

static enum ald_sql_rc sq_bind_int64(struct ald_sqlstmt *s, int idx, int64_t v)
{
    return bind_rc(s, sqlite3_bind_int64(s->stmt, idx, v));
}

static enum ald_sql_rc sq_bind_text(struct ald_sqlstmt *s, int idx, const char *v)
{
    if (!v)
        return bind_rc(s, sqlite3_bind_null(s->stmt, idx));
    return bind_rc(s, sqlite3_bind_text(s->stmt, idx, v, -1, SQLITE_TRANSIENT));
}

static enum ald_sql_rc sq_bind_blob(struct ald_sqlstmt *s, int idx, const void *p, size_t n)
{
    if (n > 0x7fffffff)
        return own_error(s->db, "blob too large");
    return bind_rc(s, sqlite3_bind_blob(s->stmt, idx, n ? p : "", (int)n, SQLITE_TRANSIENT));
}

static enum ald_sql_rc sq_bind_null(struct ald_sqlstmt *s, int idx)
{
    return bind_rc(s, sqlite3_bind_null(s->stmt, idx));
}

static enum ald_sql_rc sq_step(struct ald_sqlstmt *s)
{
    s->db->own_msg = false;
    return map_rc(sqlite3_step(s->stmt));
}

static bool sq_column_is_null(struct ald_sqlstmt *s, int col)
{
    return sqlite3_column_type(s->stmt, col) == SQLITE_NULL;
}

static int64_t sq_column_int64(struct ald_sqlstmt *s, int col)
{
    return sqlite3_column_int64(s->stmt, col);
}

static const char *sq_column_text(struct ald_sqlstmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s->stmt, col);
    return t ? (const char *)t : "";
}

static const void *sq_column_blob(struct ald_sqlstmt *s, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(s->stmt, col);
    int n = sqlite3_column_bytes(s->stmt, col);
    *len = p && n > 0 ? (size_t)n : 0;
    return p ? p : "";
}

static enum ald_sql_rc sq_reset(struct ald_sqlstmt *s)
{
    sqlite3_reset(s->stmt); /* returns the last step's error again: not a reset failure */
    sqlite3_clear_bindings(s->stmt);
    return ALD_SQL_OK;
}

static void sq_finalize(struct ald_sqlstmt *s)
{
    if (!s)
        return;
    if (s->sql) {
        sq_reset(s);
        s->in_use = false;
        return;
    }
    sqlite3_finalize(s->stmt);
    free(s);
}

static int64_t sq_changes(struct ald_sqldb *db)
{
    return sqlite3_changes64(db->db);
}

static const char *sq_errmsg(struct ald_sqldb *db)
{
    return db->own_msg ? db->msg : sqlite3_errmsg(db->db);
}

static enum ald_sql_rc sq_listen(struct ald_sqldb *db, const char *channel)
{
    (void)db;
    (void)channel;
    return ALD_SQL_OK;
}

static enum ald_sql_rc sq_wait(struct ald_sqldb *db, unsigned timeout_ms, char *payload,
                               size_t cap)
{
    struct timespec t = {(time_t)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000000L};
    (void)db;
    if (cap)
        payload[0] = '\0';
    nanosleep(&t, NULL);
    return ALD_SQL_DONE;
}

static enum ald_sql_rc sq_notify(struct ald_sqldb *db, const char *channel, const char *payload)
{
    (void)db;
    (void)channel;
    (void)payload;
    return ALD_SQL_OK;
}

const struct ald_sql_driver ald_sqldb_sqlite = {
    .name = "sqlite",
    .connect = sq_connect,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .column_is_null = sq_column_is_null,
    .column_int64 = sq_column_int64,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .reset = sq_reset,
    .finalize = sq_finalize,
    .changes = sq_changes,
    .errmsg = sq_errmsg,
    .listen = sq_listen,
    .wait = sq_wait,
    .notify = sq_notify,
};
