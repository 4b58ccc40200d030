/*
 * test_store.c - the store conformance suite (every store.h operation, through the
 * interface only), plus image intake, settings and helpers.
 *
 * The store under test is the URL in AIRLIFT_TEST_STORE_URL, or a fresh temporary
 * "sqlite:" file when it is unset. Each test starts from an empty store: a new file for
 * SQLite; for PostgreSQL the public schema is dropped and created again (the URL must name
 * a database the test may wipe). Tests of SQLite's own settings run on SQLite only.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "airlift/version.h"
#include "airlift_host/image_build.h"
#include "airlift_host/keys.h"
#include "auth.h"
#include "config.h"
#include "events.h"
#include "images.h"
#include "log.h"
#include "sqldb.h"
#include "store.h"

/* Append s and a comma to out (cap 256), bounded. */
static void append_item(char *out, const char *s)
{
    size_t len = strlen(out);
    snprintf(out + len, 256 - len, "%s,", s);
}

struct fixture {
    char dir[256];
    char url[512];
    bool sqlite; /* the store under test is a SQLite file (dir/airlift.db) */
    struct ald_store *st;
};

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Run SQL on the store's database through its driver, outside the store. */
static void raw_exec(const struct fixture *fx, const char *sql)
{
    const char *target = NULL;
    const struct ald_sql_driver *drv = ald_sqldb_for_url(fx->url, &target);
    struct ald_sqldb *db = NULL;
    char err[256];
    assert_non_null(drv);
    if (drv->connect(target, &db, err, sizeof err) != ALD_SQL_OK)
        fail_msg("connect: %s", err);
    if (drv->exec(db, sql) != ALD_SQL_OK)
        fail_msg("%s: %s", sql, drv->errmsg(db));
    drv->close(db);
}

static void open_store(struct fixture *fx)
{
    char err[256];
    enum ald_store_open_rc rc = ald_store_open(fx->url, &fx->st, err, sizeof err);
    if (rc != ALD_STORE_OPEN_OK)
        fail_msg("open %d: %s", rc, err);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    const char *url = getenv("AIRLIFT_TEST_STORE_URL");
    snprintf(fx->dir, sizeof fx->dir, "%s/ald-store.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    if (url && *url) {
        snprintf(fx->url, sizeof fx->url, "%s", url);
        fx->sqlite = strncmp(url, "sqlite:", 7) == 0;
        if (!fx->sqlite)
            raw_exec(fx, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    } else {
        snprintf(fx->url, sizeof fx->url, "sqlite:%s/airlift.db", fx->dir);
        fx->sqlite = true;
    }
    if (fx->sqlite && url && *url)
        unlink(fx->url + 7);
    open_store(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->st)
        fx->st->ops->close(fx->st);
    rm_rf(fx->dir);
    free(fx);
    return 0;
}

/* ---- migrations and opening ---- */

static void test_migrations_idempotent(void **state)
{
    struct fixture *fx = *state;
    int v = 0;
    assert_int_equal(fx->st->ops->schema_version(fx->st, &v), ALD_STORE_OK);
    assert_int_equal(v, ald_store_latest_schema());
    fx->st->ops->close(fx->st);
    fx->st = NULL;
    /* Reopening applies nothing and changes nothing. */
    for (int i = 0; i < 2; i++) {
        open_store(fx);
        assert_int_equal(fx->st->ops->schema_version(fx->st, &v), ALD_STORE_OK);
        assert_int_equal(v, ald_store_latest_schema());
        fx->st->ops->close(fx->st);
        fx->st = NULL;
    }
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *fx = *state;
    char err[256];
    fx->st->ops->close(fx->st);
    fx->st = NULL;
    raw_exec(fx, "INSERT INTO schema_version(version, applied_at) VALUES (999, 0)");
    assert_int_equal(ald_store_open(fx->url, &fx->st, err, sizeof err),
                     ALD_STORE_OPEN_NEWER_SCHEMA);
    assert_null(fx->st);
    assert_non_null(strstr(err, "newer"));
}

static void test_open_results(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = (struct ald_store *)1;
    char err[256], url[400];
    assert_int_equal(ald_store_open("mysql://x", &st, err, sizeof err), ALD_STORE_OPEN_BAD_URL);
    assert_null(st);
    assert_non_null(strstr(err, "scheme"));
    assert_int_equal(ald_store_open("sqlite:", &st, err, sizeof err), ALD_STORE_OPEN_BAD_URL);
    assert_int_equal(ald_store_open("", &st, err, sizeof err), ALD_STORE_OPEN_BAD_URL);
    assert_int_equal(ald_store_open(NULL, &st, err, sizeof err), ALD_STORE_OPEN_BAD_URL);
#ifndef AIRLIFT_HAVE_PG
    assert_int_equal(ald_store_open("postgresql://u@127.0.0.1:1/db", &st, err, sizeof err),
                     ALD_STORE_OPEN_BAD_URL);
    assert_non_null(strstr(err, "without PostgreSQL"));
#else
    /* Nothing listens on port 1. */
    assert_int_equal(ald_store_open("postgresql://u:secret@127.0.0.1:1/db", &st, err, sizeof err),
                     ALD_STORE_OPEN_UNREACHABLE);
    assert_null(strstr(err, "secret"));
#endif
    /* A file that cannot be made. */
    snprintf(url, sizeof url, "sqlite:%s/no/such/dir/x.db", fx->dir);
    assert_int_equal(ald_store_open(url, &st, err, sizeof err), ALD_STORE_OPEN_ERROR);
    assert_null(st);
    assert_string_equal(ald_store_rc_name(ALD_STORE_CONFLICT), "conflict");
}

static void test_wal_and_foreign_keys(void **state)
{
    struct fixture *fx = *state;
    char path[512];
    sqlite3 *db;
    sqlite3_stmt *stmt;
    if (!fx->sqlite)
        skip();
    snprintf(path, sizeof path, "%s", fx->url + 7);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    assert_string_equal(fx->st->ops->backend, "sqlite");
}

/* ---- tokens ---- */

static void test_tokens(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_token_rec rec, got;
    char token[ALD_TOKEN_LEN + 1];
    uint8_t hash[32];

    assert_int_equal(ald_token_issue(st, "ci", ALD_SCOPE_OPERATOR, 0, token, &rec), ALD_STORE_OK);
    assert_true(rec.id > 0);
    assert_true(rec.created_at > 0);
    assert_int_equal(strlen(token), ALD_TOKEN_LEN);
    assert_memory_equal(token, "alt_", 4);
    assert_true(ald_token_hash(token, hash));
    assert_memory_equal(hash, rec.sha256, 32);

    assert_int_equal(st->ops->token_by_hash(st, hash, &got), ALD_STORE_OK);
    assert_int_equal(got.id, rec.id);
    assert_string_equal(got.name, "ci");
    assert_int_equal(got.scope, ALD_SCOPE_OPERATOR);
    assert_false(got.revoked);
    assert_int_equal(got.last_used_at, 0);
    assert_int_equal(got.expires_at, 0);
    assert_int_equal(got.revoked_at, 0);

    /* The same hash twice is refused. */
    assert_int_equal(st->ops->token_create(st, &got), ALD_STORE_EXISTS);

    assert_int_equal(st->ops->token_touch(st, rec.id, 123456789), ALD_STORE_OK);
    assert_int_equal(st->ops->token_get(st, rec.id, &got), ALD_STORE_OK);
    assert_int_equal(got.last_used_at, 123456789);
    /* Within a minute: not written again. */
    assert_int_equal(st->ops->token_touch(st, rec.id, 123456789 + 1000), ALD_STORE_OK);
    assert_int_equal(st->ops->token_get(st, rec.id, &got), ALD_STORE_OK);
    assert_int_equal(got.last_used_at, 123456789);

    assert_int_equal(st->ops->token_revoke(st, rec.id), ALD_STORE_OK);
    assert_int_equal(st->ops->token_by_hash(st, hash, &got), ALD_STORE_OK);
    assert_true(got.revoked);
    assert_true(got.revoked_at > 0);
    /* An expiry (issue 14) is kept as given. */
    assert_int_equal(ald_token_issue(st, "ci2", ALD_SCOPE_READ, 4102444800000, token, &rec),
                     ALD_STORE_OK);
    assert_int_equal(st->ops->token_get(st, rec.id, &got), ALD_STORE_OK);
    assert_int_equal(got.expires_at, 4102444800000);
    assert_int_equal(st->ops->token_revoke(st, 4242), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->token_get(st, 4242, &got), ALD_STORE_NOT_FOUND);

    /* Token shapes. */
    assert_false(ald_token_hash("alt_", hash));
    assert_false(ald_token_hash("alt_0123", hash));
    memcpy(token, "xyz_", 4);
    assert_false(ald_token_hash(token, hash));
    memcpy(token, "alt_", 4);
    token[10] = 'G';
    assert_false(ald_token_hash(token, hash));
}

/* ---- devices ---- */

static struct ald_device_rec *device(const char *name, const char *identity)
{
    static struct ald_device_rec d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", name);
    snprintf(d.identity, sizeof d.identity, "%s", identity);
    d.psk_len = 16;
    memset(d.psk, 0xA5, d.psk_len);
    d.platform = 10;
    return &d;
}

static int collect_names(void *ctx, const struct ald_device_rec *d)
{
    append_item(ctx, d->name);
    return 0;
}

static void test_devices(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_device_rec *got = malloc(sizeof *got);
    char names[256] = "";

    assert_int_equal(st->ops->device_create(st, device("zeta", "id-z")), ALD_STORE_OK);
    assert_int_equal(st->ops->device_create(st, device("alpha", "id-a")), ALD_STORE_OK);
    assert_int_equal(st->ops->device_create(st, device("alpha", "id-other")), ALD_STORE_EXISTS);
    assert_int_equal(st->ops->device_create(st, device("other", "id-a")), ALD_STORE_EXISTS);

    assert_int_equal(st->ops->device_get(st, "alpha", got), ALD_STORE_OK);
    assert_string_equal(got->identity, "id-a");
    assert_int_equal(got->psk_len, 16);
    assert_int_equal(got->psk[15], 0xA5);
    assert_int_equal(got->platform, 10);
    assert_int_equal(got->reported_at, 0);
    assert_string_equal(got->inventory, "");
    assert_int_equal(got->product_id, 0);
    assert_int_equal(st->ops->device_by_identity(st, "id-z", got), ALD_STORE_OK);
    assert_string_equal(got->name, "zeta");
    assert_int_equal(st->ops->device_get(st, "nope", got), ALD_STORE_NOT_FOUND);

    assert_int_equal(st->ops->device_report(st, "alpha", "{\"modules\":[]}", 5000, -1), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "alpha", got), ALD_STORE_OK);
    assert_string_equal(got->inventory, "{\"modules\":[]}");
    assert_int_equal(got->reported_at, 5000);
    assert_int_equal(got->last_seen_at, 5000);
    assert_int_equal(st->ops->device_report(st, "nope", "{}", 1, -1), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->device_report(st, "nope", "{}", 1, 7), ALD_STORE_NOT_FOUND);
    /* With next_checkin_at: the same inventory again (one statement), then a new one. */
    assert_int_equal(st->ops->device_report(st, "alpha", "{\"modules\":[]}", 6000, 66000), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "alpha", got), ALD_STORE_OK);
    assert_int_equal(got->reported_at, 6000);
    assert_int_equal(got->last_seen_at, 6000);
    assert_int_equal(got->next_checkin_at, 66000);
    assert_int_equal(st->ops->device_report(st, "alpha", "{\"modules\":[],\"x\":1}", 7000, 0), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "alpha", got), ALD_STORE_OK);
    assert_string_equal(got->inventory, "{\"modules\":[],\"x\":1}");
    assert_int_equal(got->reported_at, 7000);
    assert_int_equal(got->next_checkin_at, 0);
    assert_int_equal(st->ops->device_report(st, "alpha", "{\"modules\":[],\"x\":1}", 8000, -1), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "alpha", got), ALD_STORE_OK);
    assert_int_equal(got->reported_at, 8000);
    assert_int_equal(got->next_checkin_at, 0); /* -1: left as it was */

    assert_int_equal(st->ops->device_list(st, collect_names, names), ALD_STORE_OK);
    assert_string_equal(names, "alpha,zeta,");

    assert_int_equal(st->ops->device_delete(st, "alpha"), ALD_STORE_OK);
    assert_int_equal(st->ops->device_delete(st, "alpha"), ALD_STORE_NOT_FOUND);
    names[0] = '\0';
    assert_int_equal(st->ops->device_list(st, collect_names, names), ALD_STORE_OK);
    assert_string_equal(names, "zeta,");
    free(got);
}

/* ---- images and version keys ---- */

static void version_key(const char *s, char *key, size_t cap)
{
    struct al_version v;
    assert_int_equal(al_version_parse(s, strlen(s), &v), AL_OK);
    assert_true(ald_version_sort_key(&v, key, cap));
}

static void test_version_sort_key(void **state)
{
    /* In semver precedence order (semver.org's own example plus numbers of many digits). */
    static const char *const ordered[] = {
        "0.6.4",          "0.7.0-alpha",   "0.7.0-alpha.1", "0.7.0-alpha.beta",
        "0.7.0-beta",     "0.7.0-beta.2",  "0.7.0-beta.11", "0.7.0-rc.1",
        "0.7.0-rc.6",     "0.7.0-rc.10",   "0.7.0",         "0.7.1",
        "0.10.0",         "1.5.2",         "2.3.1",         "10.0.0-1",
        "10.0.0-1.2",     "10.0.0-1a",     "10.0.0",        "4294967295.0.0",
    };
    size_t n = sizeof ordered / sizeof ordered[0];
    char a[ALD_VERSION_KEY_MAX + 1], b[ALD_VERSION_KEY_MAX + 1];
    (void)state;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            struct al_version va, vb;
            int cmp_key, cmp_ver;
            version_key(ordered[i], a, sizeof a);
            version_key(ordered[j], b, sizeof b);
            al_version_parse(ordered[i], strlen(ordered[i]), &va);
            al_version_parse(ordered[j], strlen(ordered[j]), &vb);
            cmp_key = strcmp(a, b);
            cmp_ver = al_version_compare(&va, &vb);
            if ((cmp_key > 0) != (cmp_ver > 0) || (cmp_key < 0) != (cmp_ver < 0) ||
                (cmp_key < 0) != (i < j))
                fail_msg("%s vs %s: key %d, semver %d", ordered[i], ordered[j], cmp_key, cmp_ver);
        }
    }
    /* The longest pre-release tag fits. */
    version_key("4294967295.4294967295.4294967295-1.2.3.4.5.6.7.8", a, sizeof a);
    assert_false(ald_version_sort_key(&(struct al_version){1, 2, 3, "rc.1"}, a, 20));
}

static struct ald_product_rec *product(const char *name);

static struct ald_image_rec *image_rec(const char *sha_digit, const char *version)
{
    static struct ald_image_rec m;
    memset(&m, 0, sizeof m);
    memset(m.sha256, sha_digit[0], 64);
    memset(m.id, sha_digit[0], 64); /* an id: unique per image (here, the payload's digit) */
    m.function = AL_FN_SYSTEM;
    m.index = 1;
    m.platform = 10;
    snprintf(m.version, sizeof m.version, "%s", version);
    version_key(version, m.version_key, sizeof m.version_key);
    m.payload_size = 1000;
    m.file_size = 1224;
    snprintf(m.key_id, sizeof m.key_id, "0011223344556677");
    snprintf(m.deps_json, sizeof m.deps_json, "[]");
    return &m;
}

static int collect_versions(void *ctx, const struct ald_image_rec *m)
{
    append_item(ctx, m->version);
    return 0;
}

static int collect_ids(void *ctx, const struct ald_image_rec *m)
{
    append_item(ctx, m->id);
    return 0;
}

static int collect_release_ids(void *ctx, const struct ald_release_rec *r)
{
    char item[64];
    snprintf(item, sizeof item, "r%s", r->version);
    append_item(ctx, item);
    return 0;
}

static int collect_update_ids(void *ctx, const struct ald_update_rec *u)
{
    (void)u;
    append_item(ctx, "u");
    return 0;
}

/* The images table as schema 5 had it (keyed by payload), in either dialect, with schema 6
 * forgotten: what an airliftd of the version before left. */
/* Undo migration 11 (issue 14, creds: device credential kinds, disabled devices). */
static void undo_schema11(struct fixture *fx)
{
    raw_exec(fx, "ALTER TABLE devices DROP COLUMN credential;"
                 "ALTER TABLE devices DROP COLUMN fingerprint;"
                 "ALTER TABLE devices DROP COLUMN subject;"
                 "ALTER TABLE devices DROP COLUMN disabled;"
                 "DELETE FROM schema_version WHERE version = 11;");
}

/* Undo migration 10 (issue 14, tokens: expiry and revocation time). */
static void undo_schema10(struct fixture *fx)
{
    undo_schema11(fx);
    raw_exec(fx, "ALTER TABLE api_tokens DROP COLUMN expires_at;"
                 "ALTER TABLE api_tokens DROP COLUMN revoked_at;"
                 "DELETE FROM schema_version WHERE version = 10;");
}

/* Undo migration 9 (issue 12, rollouts: rollouts by release). */
static void undo_schema9(struct fixture *fx)
{
    undo_schema10(fx);
    raw_exec(fx, "DROP INDEX rollouts_release; DELETE FROM schema_version WHERE version = 9;");
}

/* Undo migration 8 (issue 12, cli: event actors, events by time, usage). */
static void undo_schema8(struct fixture *fx)
{
    undo_schema9(fx);
    raw_exec(fx, "DROP TABLE device_usage; DROP INDEX events_ts;"
                 "ALTER TABLE events DROP COLUMN actor;"
                 "DELETE FROM schema_version WHERE version = 8;");
}

/* Undo migration 7 (issue 12, updates: tombstones, events by device id). */
static void undo_schema7(struct fixture *fx)
{
    undo_schema8(fx);
    if (fx->sqlite)
        raw_exec(fx, "DROP TRIGGER devices_never_deleted; DROP TRIGGER updates_never_deleted;"
                     "DROP TRIGGER rollouts_never_deleted;");
    raw_exec(fx, "DROP INDEX events_device_id;"
                 "ALTER TABLE events DROP COLUMN device_id;"
                 "ALTER TABLE updates DROP COLUMN queued_by;"
                 "ALTER TABLE devices DROP COLUMN removed_name;"
                 "ALTER TABLE devices DROP COLUMN removed_at;"
                 "DELETE FROM schema_version WHERE version = 7;");
}

#define SCHEMA5_IMAGES                                                                        \
    "DROP TABLE images;"                                                                      \
    "CREATE TABLE images ("                                                                   \
    "  sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),"                                  \
    "  function BIGINT NOT NULL, module_index BIGINT NOT NULL, platform BIGINT NOT NULL,"     \
    "  version TEXT NOT NULL, version_key TEXT NOT NULL, security_counter BIGINT NOT NULL,"   \
    "  link_address BIGINT NOT NULL, payload_size BIGINT NOT NULL, file_size BIGINT NOT NULL,"\
    "  key_id TEXT NOT NULL, deps TEXT NOT NULL, created_at BIGINT NOT NULL);"                \
    "CREATE INDEX images_module ON images(platform, function, module_index, version_key);"    \
    "DELETE FROM schema_version WHERE version >= 6;"

static void test_images(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_image_rec got;
    char versions[256] = "", sha[65];

    assert_int_equal(st->ops->image_put(st, image_rec("a", "0.7.0")), ALD_STORE_OK);
    assert_int_equal(st->ops->image_put(st, image_rec("b", "0.7.0-rc.10")), ALD_STORE_OK);
    assert_int_equal(st->ops->image_put(st, image_rec("c", "0.7.0-rc.6")), ALD_STORE_OK);
    assert_int_equal(st->ops->image_put(st, image_rec("a", "9.9.9")), ALD_STORE_EXISTS);
    assert_int_equal(st->ops->image_list(st, collect_versions, versions), ALD_STORE_OK);
    assert_string_equal(versions, "0.7.0-rc.6,0.7.0-rc.10,0.7.0,");

    memset(sha, 'b', 64);
    sha[64] = '\0';
    assert_int_equal(st->ops->image_get(st, sha, &got), ALD_STORE_OK);
    assert_string_equal(got.version, "0.7.0-rc.10");
    assert_int_equal(got.file_size, 1224);
    assert_true(got.created_at > 0);
    sha[0] = 'f';
    assert_int_equal(st->ops->image_get(st, sha, &got), ALD_STORE_NOT_FOUND);

    /* Images by id (schema 6): a second image of payload a..a, under id d..d. */
    struct ald_image_rec *again = image_rec("a", "0.7.0");
    memset(again->id, 'd', 64);
    again->security_counter = 2;
    again->created_at = ald_now_ms() + 1000; /* after the first */
    assert_int_equal(st->ops->image_put(st, again), ALD_STORE_OK);
    assert_int_equal(st->ops->image_put(st, again), ALD_STORE_EXISTS);
    memset(sha, 'a', 64);
    assert_int_equal(st->ops->image_get(st, sha, &got), ALD_STORE_OK); /* the oldest */
    assert_int_equal(got.security_counter, 0);
    versions[0] = '\0';
    assert_int_equal(st->ops->image_by_payload(st, sha, collect_ids, versions), ALD_STORE_OK);
    assert_int_equal(strlen(versions), 2 * 65);
    assert_int_equal(versions[0], 'a');
    assert_int_equal(versions[65], 'd');
    memset(sha, 'd', 64);
    assert_int_equal(st->ops->image_get_id(st, sha, &got), ALD_STORE_OK);
    assert_int_equal(got.security_counter, 2);
    assert_memory_equal(got.sha256, "aaaa", 4);
    assert_int_equal(st->ops->image_get(st, sha, &got), ALD_STORE_NOT_FOUND); /* not a payload */

    /* What needs an image: a release naming it, an active update naming it. */
    struct ald_product_rec *p = product("imgs");
    struct ald_release_rec rel, *rels = malloc(sizeof *rels);
    struct ald_update_rec *u = calloc(1, sizeof *u);
    struct ald_device_rec *dev = malloc(sizeof *dev);
    char ids[256] = "";
    assert_int_equal(st->ops->product_create(st, p), ALD_STORE_OK);
    memset(&rel, 0, sizeof rel);
    rel.product_id = p->id;
    snprintf(rel.version, sizeof rel.version, "1.0.0");
    snprintf(rel.channel, sizeof rel.channel, "stable");
    snprintf(rel.images_json, sizeof rel.images_json, "[\"%s\"]", sha);
    assert_int_equal(st->ops->release_create(st, &rel), ALD_STORE_OK);
    assert_int_equal(st->ops->image_releases(st, sha, collect_release_ids, ids), ALD_STORE_OK);
    assert_string_equal(ids, "r1.0.0,");
    ids[0] = '\0';
    memset(sha, 'b', 64);
    assert_int_equal(st->ops->image_releases(st, sha, collect_release_ids, ids), ALD_STORE_OK);
    assert_string_equal(ids, "");
    assert_int_equal(st->ops->device_create(st, device("img-dev", "id-img-dev")), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "img-dev", dev), ALD_STORE_OK);
    u->device_id = dev->id;
    snprintf(u->state, sizeof u->state, "downloading");
    snprintf(u->wanted_json, sizeof u->wanted_json, "[\"%s\"]", "cccccccccccccccccccccccccccccccc"
             "cccccccccccccccccccccccccccccccc");
    snprintf(u->steps_json, sizeof u->steps_json, "[{\"transfer\":\"%s.%s\"}]",
             "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", sha);
    assert_int_equal(st->ops->update_create(st, u), ALD_STORE_OK);
    assert_int_equal(st->ops->image_updates(st, sha, collect_update_ids, ids), ALD_STORE_OK);
    assert_string_equal(ids, "u,"); /* b..b is the patch's base */
    ids[0] = '\0';
    memset(sha, 'c', 64);
    assert_int_equal(st->ops->image_updates(st, sha, collect_update_ids, ids), ALD_STORE_OK);
    assert_string_equal(ids, "u,"); /* wanted */
    snprintf(u->state, sizeof u->state, "succeeded");
    assert_int_equal(st->ops->update_save(st, u), ALD_STORE_OK);
    ids[0] = '\0';
    assert_int_equal(st->ops->image_updates(st, sha, collect_update_ids, ids), ALD_STORE_OK);
    assert_string_equal(ids, ""); /* a final update needs nothing */

    memset(sha, 'd', 64);
    assert_int_equal(st->ops->image_delete(st, sha), ALD_STORE_OK);
    assert_int_equal(st->ops->image_delete(st, sha), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->image_get_id(st, sha, &got), ALD_STORE_NOT_FOUND);
    free(rels);
    free(u);
    free(dev);
}

/* Schema 5 images (keyed by payload) get their payload hash as id at migration 6. */
static void test_images_rekeyed(void **state)
{
    struct fixture *fx = *state;
    struct ald_image_rec got;
    char sha[65];
    int v = 0;
    fx->st->ops->close(fx->st);
    fx->st = NULL;
    undo_schema7(fx);
    raw_exec(fx, SCHEMA5_IMAGES
                 "INSERT INTO images(sha256, function, module_index, platform, version, "
                 "version_key, security_counter, link_address, payload_size, file_size, key_id, "
                 "deps, created_at) VALUES ('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
                 "eeeeeeeeeeee', 3, 1, 10, '1.0.0', 'k', 1, 134742016, 100, 500, "
                 "'0011223344556677', '[]', 5)");
    open_store(fx);
    assert_int_equal(fx->st->ops->schema_version(fx->st, &v), ALD_STORE_OK);
    assert_int_equal(v, ald_store_latest_schema());
    memset(sha, 'e', 64);
    sha[64] = '\0';
    assert_int_equal(fx->st->ops->image_get_id(fx->st, sha, &got), ALD_STORE_OK);
    assert_string_equal(got.id, sha);
    assert_string_equal(got.sha256, sha);
    assert_int_equal(got.file_size, 500);
    assert_int_equal(got.security_counter, 1);
}

/* ---- image intake (real signed images, built with the host tools) ---- */

static uint8_t *build_image(const char *version, const uint8_t *payload, size_t n, size_t *len)
{
    struct al_image_header t;
    alh_key *key = NULL;
    uint8_t *img = NULL;
    char err[256];
    memset(&t, 0, sizeof t);
    t.function = AL_FN_APPLICATION;
    t.index = 1;
    t.platform = 10;
    assert_int_equal(al_version_parse(version, strlen(version), &t.version), AL_OK);
    t.link_address = 0x08080000;
    t.dep_count = 1;
    t.deps[0].function = AL_FN_SYSTEM;
    t.deps[0].index = 1;
    assert_int_equal(al_version_parse("0.7.0", 5, &t.deps[0].min_version), AL_OK);
    assert_int_equal(alh_key_generate(&key, err, sizeof err), 0);
    assert_int_equal(alh_image_build(&t, payload, n, key, &img, len, err, sizeof err), 0);
    alh_key_free(key);
    return img;
}

static void test_image_ingest(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_image_rec *rec = malloc(sizeof *rec);
    uint8_t payload[3000];
    uint8_t *img, *other;
    size_t len, other_len;
    char code[48], msg[256], path[512];
    struct stat sb;

    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    snprintf(path, sizeof path, "%s/images", fx->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    img = build_image("1.2.3-rc.1", payload, sizeof payload, &len);

    assert_int_equal(ald_image_ingest(st, fx->dir, img, len, rec, code, sizeof code, msg,
                                      sizeof msg),
                     ALD_INGEST_CREATED);
    assert_string_equal(rec->version, "1.2.3-rc.1");
    assert_int_equal(rec->function, AL_FN_APPLICATION);
    assert_int_equal(rec->payload_size, sizeof payload);
    assert_int_equal(rec->file_size, len);
    assert_string_equal(rec->deps_json,
                        "[{\"function\":\"system\",\"index\":1,\"min_version\":\"0.7.0\"}]");
    assert_true(ald_image_blob_path(fx->dir, rec->id, path, sizeof path));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((size_t)sb.st_size, len);

    /* The same file again: held already. */
    assert_int_equal(ald_image_ingest(st, fx->dir, img, len, rec, code, sizeof code, msg,
                                      sizeof msg),
                     ALD_INGEST_SAME);
    char first_id[65], first_sha[65];
    snprintf(first_id, sizeof first_id, "%s", rec->id);
    snprintf(first_sha, sizeof first_sha, "%s", rec->sha256);
    assert_string_not_equal(rec->id, rec->sha256); /* the id is the file's hash */
    /* The same payload under another header (another key): a second image. */
    other = build_image("1.2.3-rc.1", payload, sizeof payload, &other_len);
    assert_int_equal(ald_image_ingest(st, fx->dir, other, other_len, rec, code, sizeof code, msg,
                                      sizeof msg),
                     ALD_INGEST_CREATED);
    assert_string_not_equal(rec->id, first_id);
    assert_string_equal(rec->sha256, first_sha);
    assert_true(ald_image_blob_path(fx->dir, rec->id, path, sizeof path));
    assert_int_equal(stat(path, &sb), 0);
    /* Named by its payload hash, the image is now ambiguous: 409 naming both ids. */
    struct ald_result res = ald_image_resolve(st, first_sha, rec);
    assert_int_equal(res.code, ALD_ERR_CONFLICT);
    assert_string_equal(res.reason, "ambiguous_image");
    assert_non_null(strstr(res.msg, first_id));
    assert_non_null(strstr(res.msg, rec->id) ? res.msg : NULL);
    res = ald_image_resolve(st, first_id, rec);
    assert_int_equal(res.code, ALD_OK);
    assert_string_equal(rec->id, first_id);
    /* Nothing needs either image: removing one leaves the other, the payload resolves. */
    res = ald_image_remove(st, fx->dir, first_id, "test", rec);
    assert_int_equal(res.code, ALD_OK);
    assert_true(ald_image_blob_path(fx->dir, first_id, path, sizeof path));
    assert_int_not_equal(stat(path, &sb), 0);
    res = ald_image_resolve(st, first_sha, rec);
    assert_int_equal(res.code, ALD_OK);
    assert_string_not_equal(rec->id, first_id);
    res = ald_image_remove(st, fx->dir, first_id, "test", rec);
    assert_int_equal(res.code, ALD_ERR_NOT_FOUND);
    free(other);

    /* Corrupt payload, truncated file, garbage. */
    img[len - 1] ^= 1;
    assert_int_equal(ald_image_ingest(st, fx->dir, img, len, rec, code, sizeof code, msg,
                                      sizeof msg),
                     ALD_INGEST_INVALID);
    assert_string_equal(code, "hash_mismatch");
    assert_int_equal(ald_image_ingest(st, fx->dir, img, len - 1, rec, code, sizeof code, msg,
                                      sizeof msg),
                     ALD_INGEST_INVALID);
    assert_string_equal(code, "size_mismatch");
    assert_int_equal(ald_image_ingest(st, fx->dir, payload, 100, rec, code, sizeof code, msg,
                                      sizeof msg),
                     ALD_INGEST_INVALID);
    assert_int_equal(ald_image_ingest(st, fx->dir, img, 10, rec, code, sizeof code, msg,
                                      sizeof msg),
                     ALD_INGEST_INVALID);
    assert_string_equal(code, "truncated");
    free(img);
    free(rec);
}

/* ---- events ---- */

struct event_seen {
    int count;
    int64_t last_id;
    char types[256];
};

static int collect_events(void *ctx, const struct ald_event_rec *e)
{
    struct event_seen *s = ctx;
    assert_true(e->id > s->last_id);
    s->last_id = e->id;
    s->count++;
    append_item(s->types, e->type);
    return 0;
}

static void test_events(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_event_filter all = {.limit = 0}, one = {.device = "dev-1"}, page = {.limit = 2};
    struct event_seen seen;
    int64_t last = -1;

    assert_int_equal(st->ops->event_last_id(st, &last), ALD_STORE_OK);
    assert_int_equal(last, 0);

    assert_int_equal(ald_event_emit(st, "device.created", "dev-1", 0, NULL), ALD_STORE_OK);
    assert_int_equal(ald_event_emit(st, "device.created", "dev-2", 0, "{\"platform\":10}"),
                     ALD_STORE_OK);
    assert_int_equal(ald_event_emit(st, "update.queued", "dev-1", 7, "{}"), ALD_STORE_OK);
    assert_int_equal(ald_event_emit(st, "image.uploaded", NULL, 0, NULL), ALD_STORE_OK);

    memset(&seen, 0, sizeof seen);
    assert_int_equal(st->ops->event_list(st, &all, collect_events, &seen), ALD_STORE_OK);
    assert_int_equal(seen.count, 4);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(st->ops->event_list(st, &one, collect_events, &seen), ALD_STORE_OK);
    assert_string_equal(seen.types, "device.created,update.queued,");
    memset(&seen, 0, sizeof seen);
    assert_int_equal(st->ops->event_list(st, &page, collect_events, &seen), ALD_STORE_OK);
    assert_int_equal(seen.count, 2);
    page.after_id = seen.last_id;
    memset(&seen, 0, sizeof seen);
    seen.last_id = page.after_id;
    assert_int_equal(st->ops->event_list(st, &page, collect_events, &seen), ALD_STORE_OK);
    assert_string_equal(seen.types, "update.queued,image.uploaded,");
    assert_int_equal(st->ops->event_last_id(st, &last), ALD_STORE_OK);
    assert_int_equal(last, seen.last_id);

    /* Oversized fields are refused, not truncated. */
    {
        char big[ALD_EVENT_DATA_MAX + 10];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        assert_int_equal(ald_event_emit(st, "x", NULL, 0, big), ALD_STORE_ERROR);
    }
}

/* Events of updates and rollouts, and the filters on them. */
static int keep_event(void *ctx, const struct ald_event_rec *e)
{
    *(struct ald_event_rec *)ctx = *e;
    return 1; /* the first is enough */
}

static void test_event_filters(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_event_rec *got = calloc(1, sizeof *got);
    struct event_seen seen;
    struct ald_event_filter f;

    assert_int_equal(ald_event_emit(st, "device.created", "dev-1", 0, NULL), ALD_STORE_OK);
    assert_int_equal(ald_event_emit(st, "update.queued", "dev-1", 7, NULL), ALD_STORE_OK);
    assert_int_equal(ald_event_emit_rollout(st, "rollout.started", NULL, 0, 3, "{\"wave\":1}"),
                     ALD_STORE_OK);
    assert_int_equal(ald_event_emit_rollout(st, "update.queued", "dev-2", 8, 3, NULL),
                     ALD_STORE_OK);
    assert_int_equal(ald_event_emit_rollout(st, "update.succeeded", "dev-1", 7, 0, NULL),
                     ALD_STORE_OK);
    assert_int_equal(ald_event_emit(st, "updates", NULL, 0, NULL), ALD_STORE_OK);

    /* rollout_id is kept, and 0 reads back as 0 (NULL in the table). */
    memset(&f, 0, sizeof f);
    f.rollout_id = 3;
    assert_int_equal(st->ops->event_list(st, &f, keep_event, got), ALD_STORE_OK);
    assert_string_equal(got->type, "rollout.started");
    assert_int_equal(got->rollout_id, 3);
    assert_int_equal(got->update_id, 0);
    assert_string_equal(got->device, "");
    assert_string_equal(got->data, "{\"wave\":1}");
    memset(&f, 0, sizeof f);
    assert_int_equal(st->ops->event_list(st, &f, keep_event, got), ALD_STORE_OK);
    assert_int_equal(got->rollout_id, 0);

    struct {
        struct ald_event_filter f;
        const char *types;
    } cases[] = {
        {{.rollout_id = 3}, "rollout.started,update.queued,"},
        {{.update_id = 7}, "update.queued,update.succeeded,"},
        {{.update_id = 8, .rollout_id = 3}, "update.queued,"},
        {{.update_id = 7, .rollout_id = 3}, ""},
        {{.type_prefix = "update."}, "update.queued,update.queued,update.succeeded,"},
        {{.type_prefix = "update"}, "update.queued,update.queued,update.succeeded,updates,"},
        {{.type_prefix = "UPDATE."}, ""},      /* case-sensitive */
        {{.type_prefix = "update%"}, ""},      /* no LIKE wildcards */
        {{.type_prefix = "update.", .device = "dev-1"}, "update.queued,update.succeeded,"},
        {{.type_prefix = "update.", .limit = 1, .after_id = 2}, "update.queued,"},
        {{.rollout_id = 99}, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&seen, 0, sizeof seen);
        seen.last_id = cases[i].f.after_id;
        assert_int_equal(st->ops->event_list(st, &cases[i].f, collect_events, &seen),
                         ALD_STORE_OK);
        assert_string_equal(seen.types, cases[i].types);
    }
    free(got);
}

/* ---- settings and helpers ---- */

static void test_listen_parse(void **state)
{
    struct ald_listen l;
    (void)state;
    assert_true(ald_listen_parse("127.0.0.1:7780", &l));
    assert_string_equal(l.host, "127.0.0.1");
    assert_int_equal(l.port, 7780);
    assert_false(l.ipv6);
    assert_true(ald_listen_parse("[::1]:0", &l));
    assert_true(l.ipv6);
    assert_int_equal(l.port, 0);
    assert_false(ald_listen_parse("localhost:80", &l));
    assert_false(ald_listen_parse("127.0.0.1", &l));
    assert_false(ald_listen_parse("127.0.0.1:65536", &l));
    assert_false(ald_listen_parse("127.0.0.1:-1", &l));
    assert_false(ald_listen_parse("127.0.0.1:80x", &l));
    assert_false(ald_listen_parse("[::1:80", &l));
    assert_false(ald_listen_parse(":80", &l));
}

static void test_config_file_and_flags(void **state)
{
    struct fixture *fx = *state;
    struct ald_config cfg;
    char path[512], err[256], flag[600];
    FILE *f;
    snprintf(path, sizeof path, "%s/airliftd.conf", fx->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("# comment\n\n  data-dir = /srv/airlift  \nhttp-listen=0.0.0.0:8080\n"
          "log-level = debug\nlog-format = json\n",
          f);
    fclose(f);
    snprintf(flag, sizeof flag, "--config=%s", path);
    {
        char *argv[] = {"airliftd", "--http-listen", "127.0.0.1:9", flag, NULL};
        assert_int_equal(ald_config_load(&cfg, 4, argv, err, sizeof err), 0);
    }
    assert_string_equal(cfg.data_dir, "/srv/airlift");
    assert_int_equal(cfg.http.port, 9); /* the flag wins, whatever the order */
    assert_int_equal(cfg.log_level, ALD_LOG_DEBUG);
    assert_true(cfg.log_json);
    assert_int_equal(cfg.coap.port, 5684);

    f = fopen(path, "w");
    fputs("data-dir = x\nbogus = 1\n", f);
    fclose(f);
    {
        char *argv[] = {"airliftd", flag, NULL};
        assert_int_equal(ald_config_load(&cfg, 2, argv, err, sizeof err), -1);
        assert_non_null(strstr(err, ":2:"));
    }
    {
        char *argv[] = {"airliftd", "--data-dir", NULL};
        assert_int_equal(ald_config_load(&cfg, 2, argv, err, sizeof err), -1);
    }
    {
        char *argv[] = {"airliftd", "--log-level", "loud", NULL};
        assert_int_equal(ald_config_load(&cfg, 3, argv, err, sizeof err), -1);
    }
    {
        char *argv[] = {"airliftd", NULL};
        assert_int_equal(ald_config_load(&cfg, 1, argv, err, sizeof err), 0);
        assert_string_equal(cfg.http.text, "127.0.0.1:7780");
        assert_string_equal(cfg.data_dir, "./airlift-data");
    }
}

static void test_names_and_files(void **state)
{
    struct fixture *fx = *state;
    char path[512], buf[16] = {0};
    struct stat sb;
    FILE *f;
    assert_true(alc_name_valid("electron-01"));
    assert_true(alc_name_valid("a.b_c"));
    assert_false(alc_name_valid(""));
    assert_false(alc_name_valid("-x"));
    assert_false(alc_name_valid(".hidden"));
    assert_false(alc_name_valid("a/b"));
    assert_false(alc_name_valid("a b"));
    assert_false(alc_name_valid("01234567890123456789012345678901234567890123456789012345678901234"));

    snprintf(path, sizeof path, "%s/file", fx->dir);
    assert_int_equal(alc_write_file_atomic_mode(path, "one", 3, 0600), 0);
    assert_int_equal(alc_write_file_atomic_mode(path, "second", 6, 0600), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    f = fopen(path, "r");
    assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 6);
    fclose(f);
    assert_string_equal(buf, "second");
    snprintf(path, sizeof path, "%s/no-such-dir/file", fx->dir);
    assert_int_equal(alc_write_file_atomic_mode(path, "x", 1, 0600), -1);
}

/* ---- updates, liveness, wire bytes ---- */

static int count_update(void *ctx, const struct ald_update_rec *u)
{
    append_item(ctx, u->state);
    return 0;
}

static void test_updates(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_update_rec *u = calloc(1, sizeof *u), *got = malloc(sizeof *got);
    char states[256] = "";

    assert_int_equal(st->ops->device_create(st, device("e1", "id-1")), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "e1", dev), ALD_STORE_OK);
    assert_int_equal(st->ops->update_active(st, dev->id, got), ALD_STORE_NOT_FOUND);

    u->device_id = dev->id;
    strcpy(u->state, "queued");
    strcpy(u->wanted_json, "[\"aa\"]");
    strcpy(u->steps_json, "[]");
    u->total_bytes = 1000;
    u->wire_estimate = 1200;
    assert_int_equal(st->ops->update_create(st, u), ALD_STORE_OK);
    assert_true(u->id > 0 && u->created_at > 0);
    /* At most one active update per device: the database refuses a second. */
    int64_t first = u->id;
    assert_int_equal(st->ops->update_create(st, u), ALD_STORE_EXISTS);

    assert_int_equal(st->ops->update_active(st, dev->id, got), ALD_STORE_OK);
    assert_int_equal(got->id, first);
    assert_string_equal(got->device, "e1");
    assert_int_equal(got->wire_estimate, 1200);

    /* Wire bytes go to the device and to its active update; liveness moves. */
    assert_int_equal(st->ops->device_seen(st, dev->id, 5000, 300, 40, first), ALD_STORE_OK);
    assert_int_equal(st->ops->device_seen(st, dev->id, 6000, 100, 10, 0), ALD_STORE_OK);
    assert_int_equal(st->ops->device_checkin(st, dev->id, 9000), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "e1", dev), ALD_STORE_OK);
    assert_int_equal(dev->bytes_tx, 400);
    assert_int_equal(dev->bytes_rx, 50);
    assert_int_equal(dev->last_seen_at, 6000);
    assert_int_equal(dev->next_checkin_at, 9000);
    assert_int_equal(st->ops->update_get(st, first, got), ALD_STORE_OK);
    assert_int_equal(got->bytes_tx, 300);
    assert_int_equal(got->bytes_rx, 40);

    /* save writes the state but never the byte counters. */
    strcpy(got->state, "succeeded");
    got->offset = 77;
    got->finished_at = 7000;
    got->bytes_tx = 1;
    assert_int_equal(st->ops->update_save(st, got), ALD_STORE_OK);
    assert_int_equal(st->ops->update_get(st, first, got), ALD_STORE_OK);
    assert_string_equal(got->state, "succeeded");
    assert_int_equal(got->offset, 77);
    assert_int_equal(got->bytes_tx, 300);
    assert_int_equal(st->ops->update_active(st, dev->id, got), ALD_STORE_NOT_FOUND);

    /* A final update frees the slot; listing is newest first. */
    assert_int_equal(st->ops->update_create(st, u), ALD_STORE_OK);
    assert_int_equal(st->ops->update_list(st, dev->id, 0, count_update, states), ALD_STORE_OK);
    assert_string_equal(states, "queued,succeeded,");
    states[0] = '\0';
    assert_int_equal(st->ops->update_list(st, dev->id, 1, count_update, states), ALD_STORE_OK);
    assert_string_equal(states, "queued,");

    /* Removing the device keeps its updates (history) and a tombstone its identity finds;
     * a new device of the name gets new device and update ids (issue 12: never reused). */
    int64_t old_dev = dev->id, second = u->id;
    assert_int_equal(st->ops->device_delete(st, "e1"), ALD_STORE_OK);
    assert_int_equal(st->ops->device_delete(st, "e1"), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->update_get(st, first, got), ALD_STORE_OK);
    assert_string_equal(got->device, "e1");
    assert_int_equal(st->ops->device_get(st, "e1", dev), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->device_by_identity(st, "id-1", dev), ALD_STORE_OK);
    assert_true(dev->removed_at > 0);
    assert_int_equal(st->ops->device_create(st, device("e1", "id-e1b")), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "e1", dev), ALD_STORE_OK);
    assert_true(dev->id > old_dev);
    assert_int_equal(dev->removed_at, 0);
    u->device_id = dev->id;
    assert_int_equal(st->ops->update_create(st, u), ALD_STORE_OK);
    assert_true(u->id > second);
    free(dev);
    free(u);
    free(got);
}

/* ---- version 2: transactions ---- */

static struct ald_product_rec *product(const char *name)
{
    static struct ald_product_rec p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "%s", name);
    p.platform = 10;
    return &p;
}

static void test_transactions(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st, *tx = NULL, *tx2 = NULL;
    struct ald_product_rec got;
    struct ald_event_rec ev;
    int64_t last = 0;

    /* Rolled back: nothing stays, events included. */
    assert_int_equal(st->ops->begin(st, &tx), ALD_STORE_OK);
    assert_non_null(tx);
    assert_int_equal(tx->ops->product_create(tx, product("p1")), ALD_STORE_OK);
    assert_int_equal(tx->ops->product_get(tx, "p1", &got), ALD_STORE_OK);
    assert_int_equal(ald_event_emit(tx, "test.rolledback", NULL, 0, NULL), ALD_STORE_OK);
    /* No nesting. */
    assert_int_equal(tx->ops->begin(tx, &tx2), ALD_STORE_ERROR);
    assert_null(tx2);
    assert_int_equal(tx->ops->rollback(tx), ALD_STORE_OK);
    assert_int_equal(st->ops->product_get(st, "p1", &got), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->event_last_id(st, &last), ALD_STORE_OK);
    assert_int_equal(last, 0);

    /* Committed: all of it stays. */
    assert_int_equal(st->ops->begin(st, &tx), ALD_STORE_OK);
    assert_int_equal(tx->ops->product_create(tx, product("p1")), ALD_STORE_OK);
    assert_int_equal(tx->ops->product_create(tx, product("p2")), ALD_STORE_OK);
    memset(&ev, 0, sizeof ev);
    snprintf(ev.type, sizeof ev.type, "test.committed");
    assert_int_equal(tx->ops->event_append(tx, &ev), ALD_STORE_OK);
    assert_true(ev.id > 0);
    assert_int_equal(tx->ops->commit(tx), ALD_STORE_OK);
    assert_int_equal(st->ops->product_get(st, "p1", &got), ALD_STORE_OK);
    assert_int_equal(st->ops->product_get(st, "p2", &got), ALD_STORE_OK);
    assert_int_equal(st->ops->event_last_id(st, &last), ALD_STORE_OK);
    assert_int_equal(last, ev.id);

    /* A failed statement spoils the transaction: commit rolls back and says why. */
    assert_int_equal(st->ops->begin(st, &tx), ALD_STORE_OK);
    assert_int_equal(tx->ops->product_create(tx, product("p3")), ALD_STORE_OK);
    assert_int_equal(tx->ops->product_create(tx, product("p1")), ALD_STORE_EXISTS);
    assert_int_equal(tx->ops->product_get(tx, "p3", &got), ALD_STORE_EXISTS);
    assert_int_equal(tx->ops->commit(tx), ALD_STORE_EXISTS);
    assert_int_equal(st->ops->product_get(st, "p3", &got), ALD_STORE_NOT_FOUND);
    /* The store is usable afterwards. */
    assert_int_equal(st->ops->product_create(st, product("p3")), ALD_STORE_OK);
}

struct txn_ctx {
    int calls;
    int fail_times;
    enum ald_store_rc fail_with;
};

static enum ald_store_rc txn_fn(struct ald_store *tx, void *ctx)
{
    struct txn_ctx *c = ctx;
    char name[32];
    snprintf(name, sizeof name, "t%d", c->calls);
    enum ald_store_rc rc = tx->ops->product_create(tx, product(name));
    if (rc != ALD_STORE_OK)
        return rc;
    if (c->calls++ < c->fail_times)
        return c->fail_with;
    return ALD_STORE_OK;
}

static int count_products(void *ctx, const struct ald_product_rec *p)
{
    (void)p;
    (*(int *)ctx)++;
    return 0;
}

static void test_txn_helper(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_product_rec got;
    int n = 0;

    /* RETRY twice, then it goes through: only the last run's writes stay. */
    struct txn_ctx c = {0, 2, ALD_STORE_RETRY};
    assert_int_equal(ald_store_txn(st, txn_fn, &c), ALD_STORE_OK);
    assert_int_equal(c.calls, 3);
    assert_int_equal(st->ops->product_get(st, "t0", &got), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->product_get(st, "t1", &got), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->product_get(st, "t2", &got), ALD_STORE_OK);

    /* RETRY every time: 1 + 5 runs, then RETRY. */
    struct txn_ctx always = {20, 100, ALD_STORE_RETRY};
    assert_int_equal(ald_store_txn(st, txn_fn, &always), ALD_STORE_RETRY);
    assert_int_equal(always.calls, 26);

    /* Another failure is not retried, and rolls back. */
    struct txn_ctx other = {10, 100, ALD_STORE_NOT_FOUND};
    assert_int_equal(ald_store_txn(st, txn_fn, &other), ALD_STORE_NOT_FOUND);
    assert_int_equal(other.calls, 11);
    assert_int_equal(st->ops->product_get(st, "t10", &got), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->product_list(st, count_products, &n), ALD_STORE_OK);
    assert_int_equal(n, 1);
}

static enum ald_store_rc create_product_row(struct ald_store *tx, void *ctx)
{
    return tx->ops->product_create(tx, ctx);
}

/* A write and its event commit together or not at all (ald_store_write_with_event). */
static void test_write_with_event(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_product_rec p = {.name = "w1", .platform = 10}, got;
    struct ald_event_filter all = {.limit = 0};
    struct event_seen seen;
    char long_type[ALD_EVENT_TYPE_MAX + 2];

    struct ald_event_write w = {create_product_row, &p, "product.created", NULL, 0, 0, "{}"};
    assert_int_equal(ald_store_write_with_event(st, &w), ALD_STORE_OK);
    assert_int_equal(st->ops->product_get(st, "w1", &got), ALD_STORE_OK);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(st->ops->event_list(st, &all, collect_events, &seen), ALD_STORE_OK);
    assert_string_equal(seen.types, "product.created,");

    /* The write fails: no event. */
    assert_int_equal(ald_store_write_with_event(st, &w), ALD_STORE_EXISTS);
    /* The event cannot be written: no row either. */
    memset(long_type, 'x', sizeof long_type - 1);
    long_type[sizeof long_type - 1] = '\0';
    struct ald_product_rec q = {.name = "w2", .platform = 10};
    struct ald_event_write bad = {create_product_row, &q, long_type, NULL, 0, 0, NULL};
    assert_int_not_equal(ald_store_write_with_event(st, &bad), ALD_STORE_OK);
    assert_int_equal(st->ops->product_get(st, "w2", &got), ALD_STORE_NOT_FOUND);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(st->ops->event_list(st, &all, collect_events, &seen), ALD_STORE_OK);
    assert_int_equal(seen.count, 1);
}

/* A check-in's bookkeeping in one lazily committed transaction (docs/store.md,
 * "Durability"): it commits like any other, rolls back like any other, and the
 * connection's ordinary transactions after it still commit and roll back. */
struct bk_ctx {
    int64_t id, next;
    enum ald_store_rc fail_with;
};

static enum ald_store_rc bk_fn(struct ald_store *tx, void *ctx)
{
    struct bk_ctx *c = ctx;
    enum ald_store_rc rc = tx->ops->device_report(tx, "bk", "{\"modules\":[]}", c->next, -1);
    if (rc == ALD_STORE_OK)
        rc = tx->ops->device_checkin(tx, c->id, c->next);
    if (rc == ALD_STORE_OK)
        rc = tx->ops->device_seen(tx, c->id, c->next, 10, 5, 0);
    return rc == ALD_STORE_OK ? c->fail_with : rc;
}

static void test_bookkeeping_txn(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_product_rec got;
    assert_int_equal(st->ops->device_create(st, device("bk", "id-bk")), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "bk", dev), ALD_STORE_OK);
    for (int i = 1; i <= 50; i++) {
        struct bk_ctx c = {dev->id, 1000 * i, ALD_STORE_OK};
        assert_int_equal(ald_store_txn_bookkeeping(st, bk_fn, &c), ALD_STORE_OK);
        if (i % 10 == 0) { /* an ordinary transaction in between */
            struct txn_ctx t = {100 + i, 0, ALD_STORE_OK};
            assert_int_equal(ald_store_txn(st, txn_fn, &t), ALD_STORE_OK);
        }
    }
    struct bk_ctx bad = {dev->id, 999999, ALD_STORE_NOT_FOUND};
    assert_int_equal(ald_store_txn_bookkeeping(st, bk_fn, &bad), ALD_STORE_NOT_FOUND);
    assert_int_equal(st->ops->device_get(st, "bk", dev), ALD_STORE_OK);
    assert_int_equal(dev->next_checkin_at, 50000); /* the failed one rolled back */
    assert_int_equal(dev->reported_at, 50000);
    assert_int_equal(dev->bytes_tx, 500);
    assert_int_equal(dev->bytes_rx, 250);
    assert_int_equal(st->ops->product_get(st, "t150", &got), ALD_STORE_OK);
    /* A second store on the same database sees every commit. */
    struct ald_store *other = NULL;
    char err[256];
    assert_int_equal(ald_store_open(fx->url, &other, err, sizeof err), ALD_STORE_OPEN_OK);
    assert_int_equal(other->ops->device_get(other, "bk", dev), ALD_STORE_OK);
    assert_int_equal(dev->next_checkin_at, 50000);
    other->ops->close(other);
    free(dev);
}

/* Two stores on one database: the second waits for the first's transaction (SQLite: the
 * write lock; PostgreSQL: the row), and a REPEATABLE READ loser gets RETRY or CONFLICT. */
static void test_two_handles(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st, *other = NULL, *tx = NULL;
    struct ald_update_rec *a = calloc(1, sizeof *a), *b = malloc(sizeof *b);
    struct ald_device_rec *dev = malloc(sizeof *dev);
    char err[256];
    assert_int_equal(ald_store_open(fx->url, &other, err, sizeof err), ALD_STORE_OPEN_OK);
    assert_int_equal(st->ops->device_create(st, device("h1", "id-h1")), ALD_STORE_OK);
    assert_int_equal(other->ops->device_get(other, "h1", dev), ALD_STORE_OK);
    a->device_id = dev->id;
    snprintf(a->state, sizeof a->state, "queued");
    snprintf(a->wanted_json, sizeof a->wanted_json, "[]");
    snprintf(a->steps_json, sizeof a->steps_json, "[]");
    assert_int_equal(st->ops->update_create(st, a), ALD_STORE_OK);
    assert_int_equal(other->ops->update_get(other, a->id, b), ALD_STORE_OK);

    /* Inside a transaction on st, a save; the other handle's stale save loses. */
    assert_int_equal(st->ops->begin(st, &tx), ALD_STORE_OK);
    snprintf(a->state, sizeof a->state, "downloading");
    assert_int_equal(tx->ops->update_save(tx, a), ALD_STORE_OK);
    assert_int_equal(a->rev, 2);
    assert_int_equal(tx->ops->commit(tx), ALD_STORE_OK);
    snprintf(b->state, sizeof b->state, "cancelled");
    assert_int_equal(other->ops->update_save(other, b), ALD_STORE_CONFLICT);
    assert_int_equal(other->ops->update_get(other, a->id, b), ALD_STORE_OK);
    assert_string_equal(b->state, "downloading");
    assert_int_equal(b->rev, 2);
    other->ops->close(other);
    free(a);
    free(b);
    free(dev);
}

/* ---- version 2: revisions ---- */

static void make_rollout(struct ald_store *st, struct ald_rollout_rec *ro, const char *prod)
{
    struct ald_product_rec *p = product(prod);
    struct ald_release_rec rel;
    assert_int_equal(st->ops->product_create(st, p), ALD_STORE_OK);
    memset(&rel, 0, sizeof rel);
    rel.product_id = p->id;
    snprintf(rel.version, sizeof rel.version, "1.0.0");
    snprintf(rel.channel, sizeof rel.channel, "stable");
    snprintf(rel.images_json, sizeof rel.images_json, "[]");
    assert_int_equal(st->ops->release_create(st, &rel), ALD_STORE_OK);
    memset(ro, 0, sizeof *ro);
    ro->release_id = rel.id;
    snprintf(ro->target_json, sizeof ro->target_json, "{}");
    snprintf(ro->waves_json, sizeof ro->waves_json, "[{\"percent\":100}]");
    ro->success_percent = 90;
    snprintf(ro->state, sizeof ro->state, "running");
    assert_int_equal(st->ops->rollout_create(st, ro), ALD_STORE_OK);
}

static void test_revisions(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_update_rec *u = calloc(1, sizeof *u), *a = malloc(sizeof *a),
                          *b = malloc(sizeof *b);
    struct ald_rollout_rec ro, ra, rb;
    struct ald_device_rec *dev = malloc(sizeof *dev);

    assert_int_equal(st->ops->device_create(st, device("r1", "id-r1")), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "r1", dev), ALD_STORE_OK);
    u->device_id = dev->id;
    snprintf(u->state, sizeof u->state, "queued");
    snprintf(u->wanted_json, sizeof u->wanted_json, "[]");
    snprintf(u->steps_json, sizeof u->steps_json, "[]");
    assert_int_equal(st->ops->update_create(st, u), ALD_STORE_OK);
    assert_int_equal(u->rev, 1);
    assert_int_equal(st->ops->update_get(st, u->id, a), ALD_STORE_OK);
    assert_int_equal(st->ops->update_get(st, u->id, b), ALD_STORE_OK);
    assert_int_equal(a->rev, 1);

    snprintf(a->state, sizeof a->state, "downloading");
    assert_int_equal(st->ops->update_save(st, a), ALD_STORE_OK);
    assert_int_equal(a->rev, 2);
    /* Saving the same record again goes on from its new revision. */
    a->offset = 10;
    assert_int_equal(st->ops->update_save(st, a), ALD_STORE_OK);
    assert_int_equal(a->rev, 3);
    /* A stale copy is refused and writes nothing. */
    snprintf(b->state, sizeof b->state, "cancelled");
    assert_int_equal(st->ops->update_save(st, b), ALD_STORE_CONFLICT);
    assert_int_equal(b->rev, 1);
    assert_int_equal(st->ops->update_get(st, u->id, b), ALD_STORE_OK);
    assert_string_equal(b->state, "downloading");
    assert_int_equal(b->offset, 10);
    assert_int_equal(b->rev, 3);
    b->id = 987654;
    assert_int_equal(st->ops->update_save(st, b), ALD_STORE_NOT_FOUND);

    make_rollout(st, &ro, "revs");
    assert_int_equal(ro.rev, 1);
    assert_int_equal(st->ops->rollout_get(st, ro.id, &ra), ALD_STORE_OK);
    assert_int_equal(st->ops->rollout_get(st, ro.id, &rb), ALD_STORE_OK);
    assert_int_equal(ra.rev, 1);
    snprintf(ra.state, sizeof ra.state, "paused");
    assert_int_equal(st->ops->rollout_save(st, &ra), ALD_STORE_OK);
    assert_int_equal(ra.rev, 2);
    snprintf(rb.state, sizeof rb.state, "cancelled");
    assert_int_equal(st->ops->rollout_save(st, &rb), ALD_STORE_CONFLICT);
    assert_int_equal(st->ops->rollout_get(st, ro.id, &rb), ALD_STORE_OK);
    assert_string_equal(rb.state, "paused");
    assert_int_equal(rb.rev, 2);
    rb.id = 98765;
    assert_int_equal(st->ops->rollout_save(st, &rb), ALD_STORE_NOT_FOUND);
    free(u);
    free(a);
    free(b);
    free(dev);
}

/* ---- version 2: event order with several writers ---- */

#define EV_WRITERS 4
#define EV_EACH 50

struct ev_reader {
    struct ald_store *st;
    int64_t after;
    int seen;
    bool ordered;
};

static int ev_collect(void *ctx, const struct ald_event_rec *e)
{
    struct ev_reader *r = ctx;
    if (e->id <= r->after)
        r->ordered = false;
    r->after = e->id;
    r->seen++;
    return 0;
}

static void *ev_writer(void *arg)
{
    struct ald_store *st = arg;
    for (int i = 0; i < EV_EACH; i++)
        if (ald_event_emit(st, "test.order", NULL, 0, NULL) != ALD_STORE_OK)
            return (void *)1;
    return NULL;
}

static void test_event_order(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *writers[EV_WRITERS];
    pthread_t threads[EV_WRITERS];
    struct ev_reader r = {fx->st, 0, 0, true};
    struct ald_event_filter f;
    char err[256];
    void *ret;
    /* Each writer its own store (its own connections), as several nodes would be. */
    for (int i = 0; i < EV_WRITERS; i++) {
        assert_int_equal(ald_store_open(fx->url, &writers[i], err, sizeof err),
                         ALD_STORE_OPEN_OK);
        assert_int_equal(pthread_create(&threads[i], NULL, ev_writer, writers[i]), 0);
    }
    memset(&f, 0, sizeof f);
    /* A live reader that only ever asks for ids above the last it saw must see them all. */
    while (r.seen < EV_WRITERS * EV_EACH) {
        int before = r.seen;
        f.after_id = r.after;
        assert_int_equal(fx->st->ops->event_list(fx->st, &f, ev_collect, &r), ALD_STORE_OK);
        if (r.seen == before) {
            int64_t last = 0;
            assert_int_equal(fx->st->ops->event_last_id(fx->st, &last), ALD_STORE_OK);
            /* Nothing new, yet the newest id is past what we saw: a skipped event. */
            if (last > r.after) {
                f.after_id = r.after;
                assert_int_equal(fx->st->ops->event_list(fx->st, &f, ev_collect, &r),
                                 ALD_STORE_OK);
                assert_true(r.seen > before);
            }
            nanosleep(&(struct timespec){0, 1000000L}, NULL);
        }
    }
    for (int i = 0; i < EV_WRITERS; i++) {
        assert_int_equal(pthread_join(threads[i], &ret), 0);
        assert_null(ret);
        writers[i]->ops->close(writers[i]);
    }
    assert_true(r.ordered);
    assert_int_equal(r.seen, EV_WRITERS * EV_EACH);
}

/* ---- version 2: device queries and modules ---- */

static void inventory(char *out, size_t cap, const char *sys_version, const char *app_version)
{
    snprintf(out, cap,
             "{\"boot_state\":\"normal\",\"modules\":["
             "{\"function\":\"system\",\"index\":1,\"version\":\"%s\",\"sha256\":\"%064d\","
             "\"size\":10,\"security_counter\":0,\"on_trial\":false},"
             "{\"function\":\"application\",\"index\":1,\"version\":\"%s\",\"sha256\":\"%064d\","
             "\"size\":10,\"security_counter\":0,\"on_trial\":false},"
             "{\"function\":\"bogus\",\"index\":1,\"version\":\"1.0.0\",\"sha256\":\"%064d\"},"
             "{\"function\":\"radio\",\"index\":1,\"version\":\"not-a-version\",\"sha256\":\"%064d\"}"
             "]}", sys_version, 1, app_version, 2, 3, 4);
}

static int collect_summary(void *ctx, const struct ald_device_summary *d)
{
    append_item(ctx, d->name);
    return 0;
}

/* Names of the devices matching f, as "a,b,"; checks device_count agrees. */
static const char *query(struct ald_store *st, const struct ald_device_filter *f)
{
    static char names[256];
    uint64_t n = 0, k = 0;
    names[0] = '\0';
    assert_int_equal(st->ops->device_query(st, f, collect_summary, names), ALD_STORE_OK);
    for (const char *p = names; *p; p++)
        k += *p == ',';
    if (!f->after_name && !f->limit) {
        assert_int_equal(st->ops->device_count(st, f, &n), ALD_STORE_OK);
        assert_int_equal(n, k);
    }
    return names;
}

static struct ald_device_filter any(void)
{
    struct ald_device_filter f;
    memset(&f, 0, sizeof f);
    f.online = -1;
    return f;
}

struct mv {
    char out[512];
};

static int collect_mv(void *ctx, const char *function, int index, const char *version,
                      uint64_t count)
{
    struct mv *m = ctx;
    size_t len = strlen(m->out);
    snprintf(m->out + len, sizeof m->out - len, "%s%d@%s=%llu,", function, index, version,
             (unsigned long long)count);
    return 0;
}

static int collect_module(void *ctx, const struct ald_module_rec *m)
{
    char item[128];
    snprintf(item, sizeof item, "%s%d@%s", m->function, m->index, m->version);
    append_item(ctx, item);
    return 0;
}

/* issue 11 (checkin): collect_module with the device's id in front */
static int collect_module_of(void *ctx, const struct ald_module_rec *m)
{
    char *out = ctx;
    size_t len = strlen(out);
    snprintf(out + len, 256 - len, "%lld:", (long long)m->device_id);
    return collect_module(ctx, m);
}

static int grab_summary(void *ctx, const struct ald_device_summary *d)
{
    memcpy(ctx, d, sizeof *d);
    return 1;
}

/* issue 13 (sort): one page of f, as "a,b,"; *last is its last device. */
struct sort_page {
    char names[256];
    struct ald_device_summary last;
    size_t n;
};

static int collect_sorted(void *ctx, const struct ald_device_summary *d)
{
    struct sort_page *pg = ctx;
    append_item(pg->names, d->name);
    pg->last = *d;
    pg->n++;
    return 0;
}

/* All devices of f in pages of `size`, each page after the cursor of the one before,
 * concatenated: "a,b,". */
static const char *sorted_pages(struct ald_store *st, struct ald_device_filter f, size_t size)
{
    static char all[512];
    static char after[ALD_NAME_MAX + 1];
    struct sort_page pg;
    all[0] = '\0';
    f.limit = size;
    f.after_name = NULL;
    f.after_key = false;
    for (int guard = 0; guard < 20; guard++) {
        memset(&pg, 0, sizeof pg);
        assert_int_equal(st->ops->device_query(st, &f, collect_sorted, &pg), ALD_STORE_OK);
        assert_true(pg.n <= size);
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s", pg.names);
        if (pg.n < size)
            return all;
        snprintf(after, sizeof after, "%s", pg.last.name);
        f.after_name = after;
        if (f.sort != ALD_SORT_NAME) {
            f.after_key = true;
            f.after_value = ald_device_sort_value(f.sort, &pg.last, &f.after_none);
        }
    }
    fail_msg("paging did not end");
    return NULL;
}

static void test_device_sorts(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_update_rec *u = calloc(1, sizeof *u);
    char inv[2048];
    /* Created out of name order. seen: last_seen_at (0: never), tx/rx bytes; reported:
     * reported_at (0: never); checkin: next_checkin_at (0: none); state: active update. */
    static const struct {
        const char *name;
        int64_t seen, reported, checkin;
        uint64_t tx, rx;
        const char *state;
    } devs[] = {
        {"e", 100, 1000, 8000, 3, 7, NULL},
        {"a", 500, 2000, 0, 10, 0, "downloading"},
        {"c", 500, 1000, 0, 0, 0, "downloading"},
        {"g", 300, 0, 9000, 1, 1, NULL},
        {"b", 300, 0, 9000, 5, 5, "queued"},
        {"f", 0, 0, 0, 0, 0, NULL},
        {"d", 0, 0, 0, 0, 0, NULL},
    };
    static const struct {
        int sort;
        bool desc;
        const char *want;
    } cases[] = {
        {ALD_SORT_NAME, false, "a,b,c,d,e,f,g,"},
        {ALD_SORT_NAME, true, "g,f,e,d,c,b,a,"},
        {ALD_SORT_LAST_SEEN, false, "e,b,g,a,c,d,f,"},
        {ALD_SORT_LAST_SEEN, true, "a,c,b,g,e,d,f,"},
        {ALD_SORT_REPORTED, false, "c,e,a,b,d,f,g,"},
        {ALD_SORT_REPORTED, true, "a,c,e,b,d,f,g,"},
        {ALD_SORT_NEXT_CHECKIN, false, "e,b,g,a,c,d,f,"},
        {ALD_SORT_NEXT_CHECKIN, true, "b,g,e,a,c,d,f,"},
        {ALD_SORT_BYTES, false, "c,d,f,g,a,b,e,"},
        {ALD_SORT_BYTES, true, "a,b,e,g,c,d,f,"},
        {ALD_SORT_STATE, false, "b,a,c,d,e,f,g,"},
        {ALD_SORT_STATE, true, "a,c,b,d,e,f,g,"},
    };
    char ident[32];
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        snprintf(ident, sizeof ident, "id-%zu", i);
        assert_int_equal(st->ops->device_create(st, device(devs[i].name, ident)), ALD_STORE_OK);
        assert_int_equal(st->ops->device_get(st, devs[i].name, d), ALD_STORE_OK);
        if (devs[i].reported) {
            inventory(inv, sizeof inv, "3.0.0", "1.2.0");
            assert_int_equal(st->ops->device_report(st, devs[i].name, inv, devs[i].reported, -1),
                             ALD_STORE_OK);
        }
        if (devs[i].seen) /* after the report, which sets last_seen_at too */
            assert_int_equal(st->ops->device_seen(st, d->id, devs[i].seen, devs[i].tx,
                                                  devs[i].rx, 0),
                             ALD_STORE_OK);
        if (devs[i].checkin)
            assert_int_equal(st->ops->device_checkin(st, d->id, devs[i].checkin), ALD_STORE_OK);
        if (devs[i].state) {
            memset(u, 0, sizeof *u);
            u->device_id = d->id;
            snprintf(u->state, sizeof u->state, "%s", devs[i].state);
            snprintf(u->wanted_json, sizeof u->wanted_json, "[]");
            snprintf(u->steps_json, sizeof u->steps_json, "[]");
            assert_int_equal(st->ops->update_create(st, u), ALD_STORE_OK);
        }
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ald_device_filter f = any();
        f.sort = cases[i].sort;
        f.desc = cases[i].desc;
        assert_string_equal(query(st, &f), cases[i].want);
        /* Every device exactly once, in order, whatever the page size (a page boundary
         * falls inside each run of ties and among the devices without a value). */
        for (size_t size = 1; size <= 4; size++)
            assert_string_equal(sorted_pages(st, f, size), cases[i].want);
    }
    /* A filter and a sort together. */
    {
        struct ald_device_filter f = any();
        f.sort = ALD_SORT_LAST_SEEN;
        f.desc = true;
        f.update_state = "none";
        assert_string_equal(query(st, &f), "g,e,d,f,");
        assert_string_equal(sorted_pages(st, f, 1), "g,e,d,f,");
    }
    free(d);
    free(u);
}

static void test_device_queries(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_update_rec *u = calloc(1, sizeof *u);
    struct ald_product_rec *p = product("fleet");
    struct ald_device_filter f;
    struct ald_device_summary one;
    char inv[2048], mods[256] = "", name[32], ident[32];
    struct mv mv;
    uint64_t n = 0;

    assert_int_equal(st->ops->product_create(st, p), ALD_STORE_OK);
    /* a0..a4 in the product, groups ["g1"] or ["g1","g2"]; b0..b2 in none, channel beta. */
    for (int i = 0; i < 8; i++) {
        bool a = i < 5;
        snprintf(name, sizeof name, "%s%d", a ? "a" : "b", a ? i : i - 5);
        snprintf(ident, sizeof ident, "id-%d", i);
        assert_int_equal(st->ops->device_create(st, device(name, ident)), ALD_STORE_OK);
        assert_int_equal(st->ops->device_get(st, name, d), ALD_STORE_OK);
        d->product_id = a ? p->id : 0;
        snprintf(d->groups_json, sizeof d->groups_json, i % 2 ? "[\"g1\",\"g2\"]" : "[\"g1\"]");
        snprintf(d->channel, sizeof d->channel, a ? "stable" : "beta");
        assert_int_equal(st->ops->device_set_fleet(st, d), ALD_STORE_OK);
        inventory(inv, sizeof inv, i < 3 ? "3.0.0" : "3.1.0-rc.1", "1.2.0");
        if (i != 7)
            assert_int_equal(st->ops->device_report(st, name, inv, 1000 + i, -1), ALD_STORE_OK);
    }
    /* a1 has an active update. */
    assert_int_equal(st->ops->device_get(st, "a1", d), ALD_STORE_OK);
    u->device_id = d->id;
    snprintf(u->state, sizeof u->state, "downloading");
    snprintf(u->wanted_json, sizeof u->wanted_json, "[]");
    snprintf(u->steps_json, sizeof u->steps_json, "[]");
    assert_int_equal(st->ops->update_create(st, u), ALD_STORE_OK);

    f = any();
    assert_string_equal(query(st, &f), "a0,a1,a2,a3,a4,b0,b1,b2,");
    f.product_id = p->id;
    assert_string_equal(query(st, &f), "a0,a1,a2,a3,a4,");
    f.product_id = -1;
    assert_string_equal(query(st, &f), "b0,b1,b2,");
    f = any();
    f.group = "g2";
    assert_string_equal(query(st, &f), "a1,a3,b0,b2,");
    f.group = "g";
    assert_string_equal(query(st, &f), "");
    f = any();
    f.channel = "beta";
    assert_string_equal(query(st, &f), "b0,b1,b2,");
    f = any();
    f.function = "system";
    f.index = 1;
    f.version = "3.1.0-rc.1";
    assert_string_equal(query(st, &f), "a3,a4,b0,b1,");
    f.version = NULL;
    assert_string_equal(query(st, &f), "a0,a1,a2,a3,a4,b0,b1,");
    f.function = "bogus";
    assert_string_equal(query(st, &f), "");
    f = any();
    f.online = 1;
    f.online_since = 1005;
    assert_string_equal(query(st, &f), "b0,b1,");
    f.online = 0;
    assert_string_equal(query(st, &f), "a0,a1,a2,a3,a4,b2,");
    f = any();
    f.update_state = "active";
    assert_string_equal(query(st, &f), "a1,");
    f.update_state = "downloading";
    assert_string_equal(query(st, &f), "a1,");
    f.update_state = "queued";
    assert_string_equal(query(st, &f), "");
    f.update_state = "none";
    assert_string_equal(query(st, &f), "a0,a2,a3,a4,b0,b1,b2,");
    f = any();
    f.name_prefix = "b";
    assert_string_equal(query(st, &f), "b0,b1,b2,");
    f.name_prefix = "a3";
    assert_string_equal(query(st, &f), "a3,");
    /* Several fields at once. */
    f = any();
    f.product_id = p->id;
    f.group = "g2";
    f.update_state = "none";
    assert_string_equal(query(st, &f), "a3,");

    /* Keyset paging: pages of 3 until the end. */
    f = any();
    f.limit = 3;
    assert_string_equal(query(st, &f), "a0,a1,a2,");
    f.after_name = "a2";
    assert_string_equal(query(st, &f), "a3,a4,b0,");
    f.after_name = "b0";
    assert_string_equal(query(st, &f), "b1,b2,");
    f.after_name = "b2";
    assert_string_equal(query(st, &f), "");
    f = any();
    assert_int_equal(st->ops->device_count(st, &f, &n), ALD_STORE_OK);
    assert_int_equal(n, 8);

    /* A summary carries the active update. */
    f = any();
    f.name_prefix = "a1";
    memset(&one, 0, sizeof one);
    assert_int_equal(st->ops->device_query(st, &f, grab_summary, &one), ALD_STORE_OK);
    assert_string_equal(one.name, "a1");
    assert_int_equal(one.update_id, u->id);
    assert_string_equal(one.update_state, "downloading");
    assert_int_equal(one.product_id, p->id);
    assert_string_equal(one.groups_json, "[\"g1\",\"g2\"]");
    assert_int_equal(one.reported_at, 1001);

    /* Modules: well-formed ones only, by function and index. */
    assert_int_equal(st->ops->device_get(st, "a0", d), ALD_STORE_OK);
    assert_int_equal(st->ops->device_modules(st, d->id, collect_module, mods), ALD_STORE_OK);
    assert_string_equal(mods, "application1@1.2.0,system1@3.0.0,");
    /* A new report replaces them; text that is not JSON leaves none. */
    inventory(inv, sizeof inv, "3.2.0", "1.2.0");
    assert_int_equal(st->ops->device_report(st, "a0", inv, 2000, -1), ALD_STORE_OK);
    mods[0] = '\0';
    assert_int_equal(st->ops->device_modules(st, d->id, collect_module, mods), ALD_STORE_OK);
    assert_string_equal(mods, "application1@1.2.0,system1@3.2.0,");
    assert_int_equal(st->ops->device_report(st, "b1", "not json", 2000, -1), ALD_STORE_OK);
    { /* issue 11 (checkin): a page's modules in one query, by device id; repeats, unknown
       * ids and devices without modules add nothing */
        struct ald_device_rec *a3 = malloc(sizeof *a3), *b2 = malloc(sizeof *b2);
        char many[512] = "", want[512];
        assert_int_equal(st->ops->device_get(st, "a3", a3), ALD_STORE_OK);
        assert_int_equal(st->ops->device_get(st, "b2", b2), ALD_STORE_OK);
        int64_t ids[] = {a3->id, b2->id, d->id, INT64_C(999999), a3->id};
        assert_int_equal(st->ops->device_modules_many(st, ids, 5, collect_module_of, many),
                         ALD_STORE_OK);
        snprintf(want, sizeof want,
                 "%lld:application1@1.2.0,%lld:system1@3.2.0,%lld:application1@1.2.0,"
                 "%lld:system1@3.1.0-rc.1,", (long long)d->id, (long long)d->id,
                 (long long)a3->id, (long long)a3->id);
        assert_string_equal(many, want);
        many[0] = '\0';
        assert_int_equal(st->ops->device_modules_many(st, ids, 0, collect_module_of, many),
                         ALD_STORE_OK);
        assert_string_equal(many, "");
        assert_int_equal(st->ops->device_modules_many(st, ids, ALD_MODULES_MANY_MAX + 1,
                                                      collect_module_of, many),
                         ALD_STORE_ERROR);
        free(a3);
        free(b2);
    }

    /* The version distribution, in version-key order (a pre-release before its release). */
    memset(&mv, 0, sizeof mv);
    assert_int_equal(st->ops->module_versions(st, 0, collect_mv, &mv), ALD_STORE_OK);
    assert_string_equal(mv.out, "application1@1.2.0=6,system1@3.0.0=2,system1@3.1.0-rc.1=3,"
                                "system1@3.2.0=1,");
    memset(&mv, 0, sizeof mv);
    assert_int_equal(st->ops->module_versions(st, p->id, collect_mv, &mv), ALD_STORE_OK);
    assert_string_equal(mv.out, "application1@1.2.0=5,system1@3.0.0=2,system1@3.1.0-rc.1=2,"
                                "system1@3.2.0=1,");
    memset(&mv, 0, sizeof mv);
    assert_int_equal(st->ops->module_versions(st, -1, collect_mv, &mv), ALD_STORE_OK);
    assert_string_equal(mv.out, "application1@1.2.0=1,system1@3.1.0-rc.1=1,");

    /* Deleting a device deletes its modules. */
    assert_int_equal(st->ops->device_delete(st, "a0"), ALD_STORE_OK);
    mods[0] = '\0';
    assert_int_equal(st->ops->device_modules(st, d->id, collect_module, mods), ALD_STORE_OK);
    assert_string_equal(mods, "");
    free(d);
    free(u);
}

/* ---- version 2: the rollout engine's queries ---- */

static int collect_rd(void *ctx, const struct ald_rollout_device_rec *r)
{
    char item[96];
    snprintf(item, sizeof item, "%lld:%d:%s:%s", (long long)r->rollout_id, r->wave, r->device,
             r->state);
    append_item(ctx, item);
    return 0;
}

static int collect_rollout(void *ctx, const struct ald_rollout_rec *r)
{
    char item[32];
    snprintf(item, sizeof item, "%lld", (long long)r->id);
    append_item(ctx, item);
    return 0;
}

static int collect_counts(void *ctx, int wave, const char *state, uint64_t n, uint64_t since)
{
    char item[64];
    snprintf(item, sizeof item, "%d:%s:%llu:%llu", wave, state, (unsigned long long)n,
             (unsigned long long)since);
    append_item(ctx, item);
    return 0;
}

static void test_rollout_queries(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_rollout_rec r1, r2;
    struct ald_rollout_device_rec rd;
    struct ald_rollout_device_filter f;
    struct ald_device_rec *d = malloc(sizeof *d);
    int64_t ids[4];
    char out[256] = "", expect[256];
    static const char *const names[] = {"d3", "d1", "d2", "d0"};

    make_rollout(st, &r1, "ro1");
    make_rollout(st, &r2, "ro2");
    snprintf(r2.state, sizeof r2.state, "paused");
    assert_int_equal(st->ops->rollout_save(st, &r2), ALD_STORE_OK);
    for (int i = 0; i < 4; i++) {
        char ident[16];
        snprintf(ident, sizeof ident, "rid-%d", i);
        assert_int_equal(st->ops->device_create(st, device(names[i], ident)), ALD_STORE_OK);
        assert_int_equal(st->ops->device_get(st, names[i], d), ALD_STORE_OK);
        ids[i] = d->id;
    }
    /* r1: d3 wave 0 updating (started 500), d1 wave 0 pending, d2 wave 1 updating (started
     * 100), d0 wave 1 succeeded (started 900). r2: d0 wave 0 pending. */
    static const struct {
        int wave;
        const char *state;
        int64_t started;
    } rows[] = {{0, "updating", 500}, {0, "pending", 0}, {1, "updating", 100},
                {1, "succeeded", 900}};
    for (int i = 0; i < 4; i++) {
        memset(&rd, 0, sizeof rd);
        rd.rollout_id = r1.id;
        rd.device_id = ids[i];
        rd.wave = rows[i].wave;
        snprintf(rd.state, sizeof rd.state, "%s", "pending");
        assert_int_equal(st->ops->rollout_device_put(st, &rd), ALD_STORE_OK);
        /* put again: replaces. */
        snprintf(rd.state, sizeof rd.state, "%s", rows[i].state);
        rd.started_at = rows[i].started;
        assert_int_equal(st->ops->rollout_device_put(st, &rd), ALD_STORE_OK);
    }
    memset(&rd, 0, sizeof rd);
    rd.rollout_id = r2.id;
    rd.device_id = ids[3];
    snprintf(rd.state, sizeof rd.state, "pending");
    assert_int_equal(st->ops->rollout_device_put(st, &rd), ALD_STORE_OK);

    assert_int_equal(st->ops->rollout_list_state(st, "running", collect_rollout, out),
                     ALD_STORE_OK);
    snprintf(expect, sizeof expect, "%lld,", (long long)r1.id);
    assert_string_equal(out, expect);
    out[0] = '\0';
    assert_int_equal(st->ops->rollout_list_state(st, NULL, collect_rollout, out), ALD_STORE_OK);
    snprintf(expect, sizeof expect, "%lld,%lld,", (long long)r1.id, (long long)r2.id);
    assert_string_equal(out, expect);
    out[0] = '\0';
    assert_int_equal(st->ops->rollout_list_state(st, "completed", collect_rollout, out),
                     ALD_STORE_OK);
    assert_string_equal(out, "");

    long long a = (long long)r1.id, b = (long long)r2.id;
    memset(&f, 0, sizeof f);
    f.max_wave = -1;
    out[0] = '\0';
    assert_int_equal(st->ops->rollout_device_query(st, &f, collect_rd, out), ALD_STORE_OK);
    snprintf(expect, sizeof expect,
             "%lld:0:d1:pending,%lld:0:d3:updating,%lld:1:d0:succeeded,%lld:1:d2:updating,"
             "%lld:0:d0:pending,", a, a, a, a, b);
    assert_string_equal(out, expect);
    f.rollout_id = r1.id;
    f.state = "updating";
    out[0] = '\0';
    assert_int_equal(st->ops->rollout_device_query(st, &f, collect_rd, out), ALD_STORE_OK);
    snprintf(expect, sizeof expect, "%lld:0:d3:updating,%lld:1:d2:updating,", a, a);
    assert_string_equal(out, expect);
    f.max_wave = 0;
    out[0] = '\0';
    assert_int_equal(st->ops->rollout_device_query(st, &f, collect_rd, out), ALD_STORE_OK);
    snprintf(expect, sizeof expect, "%lld:0:d3:updating,", a);
    assert_string_equal(out, expect);
    memset(&f, 0, sizeof f);
    f.max_wave = -1;
    f.device_id = ids[3];
    out[0] = '\0';
    assert_int_equal(st->ops->rollout_device_query(st, &f, collect_rd, out), ALD_STORE_OK);
    snprintf(expect, sizeof expect, "%lld:1:d0:succeeded,%lld:0:d0:pending,", a, b);
    assert_string_equal(out, expect);
    f.limit = 1;
    out[0] = '\0';
    assert_int_equal(st->ops->rollout_device_query(st, &f, collect_rd, out), ALD_STORE_OK);
    snprintf(expect, sizeof expect, "%lld:1:d0:succeeded,", a);
    assert_string_equal(out, expect);

    out[0] = '\0';
    assert_int_equal(st->ops->rollout_device_counts(st, r1.id, 400, collect_counts, out),
                     ALD_STORE_OK);
    assert_string_equal(out, "0:pending:1:0,0:updating:1:1,1:succeeded:1:1,1:updating:1:0,");
    out[0] = '\0';
    assert_int_equal(st->ops->rollout_device_counts(st, r1.id, 0, collect_counts, out),
                     ALD_STORE_OK);
    assert_string_equal(out, "0:pending:1:0,0:updating:1:1,1:succeeded:1:1,1:updating:1:1,");
    free(d);
}

/* ---- version 2: migration 5 fills device_modules from stored inventories ---- */

static void test_modules_backfill(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_device_rec *d = malloc(sizeof *d);
    char inv[2048], mods[256] = "";
    int v = 0;
    inventory(inv, sizeof inv, "2.0.0", "1.0.0");
    assert_int_equal(st->ops->device_create(st, device("old", "id-old")), ALD_STORE_OK);
    assert_int_equal(st->ops->device_report(st, "old", inv, 10, -1), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "old", d), ALD_STORE_OK);
    st->ops->close(st);
    fx->st = NULL;
    /* Back to schema 4, as an airliftd of the previous version left it. */
    undo_schema7(fx);
    raw_exec(fx, "DROP TABLE device_modules;"
                 "DROP INDEX devices_product; DROP INDEX rollouts_state;"
                 "DROP INDEX rollout_devices_state; DROP INDEX rollout_devices_device;"
                 "ALTER TABLE updates DROP COLUMN rev; ALTER TABLE rollouts DROP COLUMN rev;"
                 "DELETE FROM schema_version WHERE version = 5;" SCHEMA5_IMAGES);
    open_store(fx);
    st = fx->st;
    assert_int_equal(st->ops->schema_version(st, &v), ALD_STORE_OK);
    assert_int_equal(v, ald_store_latest_schema());
    assert_int_equal(st->ops->device_modules(st, d->id, collect_module, mods), ALD_STORE_OK);
    assert_string_equal(mods, "application1@1.0.0,system1@2.0.0,");
    free(d);
}

/* ---- issue 12 (cli): event actors, times, the newest first; usage per month ---- */

static int collect_usage(void *ctx, const struct ald_usage_rec *u)
{
    char item[128];
    snprintf(item, sizeof item, "%s@%s:%llu/%llu", u->device, u->month,
             (unsigned long long)u->bytes_tx, (unsigned long long)u->bytes_rx);
    append_item(ctx, item);
    return 0;
}

static int collect_actors(void *ctx, const struct ald_event_rec *e)
{
    char item[ALD_EVENT_ACTOR_MAX + ALD_EVENT_TYPE_MAX + 2];
    snprintf(item, sizeof item, "%s=%s", e->type, e->actor);
    append_item(ctx, item);
    return 0;
}

static void test_events_and_usage(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_event_rec ev;
    struct ald_event_filter f;
    struct event_seen seen;
    char out[512] = "", month[8];
    const int64_t nov = 1764000000000LL; /* 2025-11-24T16:00:00Z */
    const int64_t dec = 1764633600000LL; /* 2025-12-02T00:00:00Z */

    ald_usage_month(nov, month);
    assert_string_equal(month, "2025-11");
    ald_usage_month(dec - 1, month);
    assert_string_equal(month, "2025-12"); /* 2025-12-01T23:59:59.999Z */
    ald_usage_month(1764547200000LL - 1, month);
    assert_string_equal(month, "2025-11"); /* the last millisecond of November */
    ald_usage_month(0, month);
    assert_string_equal(month, "1970-01");

    /* Actors: whoever the thread works for (events.h). */
    ald_event_actor_token("ci");
    assert_int_equal(ald_event_emit(st, "device.created", "d1", 0, NULL), ALD_STORE_OK);
    ald_event_actor_device();
    assert_int_equal(ald_event_emit(st, "update.downloading", "d1", 4, NULL), ALD_STORE_OK);
    assert_int_equal(ald_event_emit_rollout(st, "rollout.device", "d1", 4, 9, NULL),
                     ALD_STORE_OK);
    assert_int_equal(ald_event_emit_rollout(st, "update.queued", "d2", 6, 9, NULL),
                     ALD_STORE_OK);
    ald_event_actor_clear();
    assert_int_equal(ald_event_emit_rollout(st, "update.queued", "d1", 5, 9, NULL),
                     ALD_STORE_OK);
    assert_int_equal(ald_event_emit(st, "token.created", NULL, 0, NULL), ALD_STORE_OK);
    memset(&f, 0, sizeof f);
    assert_int_equal(st->ops->event_list(st, &f, collect_actors, out), ALD_STORE_OK);
    assert_string_equal(out, "device.created=ci,update.downloading=device,"
                             "rollout.device=rollout 9,update.queued=rollout 9,"
                             "update.queued=rollout 9,token.created=airliftd,");

    /* Times: since <= ts < until. */
    memset(&ev, 0, sizeof ev);
    snprintf(ev.type, sizeof ev.type, "x.old");
    ev.ts = 1000;
    assert_int_equal(st->ops->event_append(st, &ev), ALD_STORE_OK);
    ev.ts = 2000;
    snprintf(ev.type, sizeof ev.type, "x.new");
    assert_int_equal(st->ops->event_append(st, &ev), ALD_STORE_OK);
    struct {
        struct ald_event_filter f;
        const char *types;
    } cases[] = {
        {{.type_prefix = "x.", .since_ms = 1000}, "x.old,x.new,"},
        {{.type_prefix = "x.", .since_ms = 1001}, "x.new,"},
        {{.type_prefix = "x.", .until_ms = 2000}, "x.old,"},
        {{.type_prefix = "x.", .since_ms = 1000, .until_ms = 1001}, "x.old,"},
        {{.type_prefix = "x.", .until_ms = 1000}, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&seen, 0, sizeof seen);
        assert_int_equal(st->ops->event_list(st, &cases[i].f, collect_events, &seen),
                         ALD_STORE_OK);
        assert_string_equal(seen.types, cases[i].types);
    }

    /* The newest first, and before an id. */
    out[0] = '\0';
    memset(&f, 0, sizeof f);
    f.newest = true;
    f.limit = 2;
    assert_int_equal(st->ops->event_list(st, &f, collect_actors, out), ALD_STORE_OK);
    assert_string_equal(out, "x.new=,x.old=,");
    out[0] = '\0';
    f.before_id = 7; /* ids 1..8: the two before the seventh */
    assert_int_equal(st->ops->event_list(st, &f, collect_actors, out), ALD_STORE_OK);
    assert_string_equal(out, "token.created=airliftd,update.queued=rollout 9,");

    /* Usage: device_seen adds a device's bytes to its month's row. */
    struct ald_device_rec *u1 = device("u1", "id-u1");
    assert_int_equal(st->ops->device_create(st, u1), ALD_STORE_OK);
    int64_t id = u1->id;
    assert_int_equal(st->ops->device_seen(st, id, nov, 100, 10, 0), ALD_STORE_OK);
    assert_int_equal(st->ops->device_seen(st, id, nov + 1000, 50, 5, 0), ALD_STORE_OK);
    assert_int_equal(st->ops->device_seen(st, id, dec, 7, 3, 0), ALD_STORE_OK);
    assert_int_equal(st->ops->device_seen(st, id, dec, 0, 0, 0), ALD_STORE_OK); /* no row */
    out[0] = '\0';
    assert_int_equal(st->ops->usage_list(st, NULL, NULL, collect_usage, out), ALD_STORE_OK);
    assert_string_equal(out, "u1@2025-11:150/15,u1@2025-12:7/3,");
    out[0] = '\0';
    assert_int_equal(st->ops->usage_list(st, "u1", "2025-12", collect_usage, out), ALD_STORE_OK);
    assert_string_equal(out, "u1@2025-12:7/3,");
    out[0] = '\0';
    assert_int_equal(st->ops->usage_list(st, "u2", NULL, collect_usage, out), ALD_STORE_OK);
    assert_string_equal(out, "");
    /* A deleted device's usage stays. */
    assert_int_equal(st->ops->device_delete(st, "u1"), ALD_STORE_OK);
    assert_int_equal(st->ops->usage_list(st, "u1", "2025-11", collect_usage, out), ALD_STORE_OK);
    assert_string_equal(out, "u1@2025-11:150/15,");
}

/* ---- a page of devices out of many (AIRLIFT_STORE_BENCH=N devices; skipped if unset) ---- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int count_summary(void *ctx, const struct ald_device_summary *d)
{
    (void)d;
    (*(int *)ctx)++;
    return 0;
}

static void test_query_bench(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st, *tx = NULL;
    const char *env = getenv("AIRLIFT_STORE_BENCH");
    long total = env ? strtol(env, NULL, 10) : 0;
    struct ald_device_filter f = any();
    char name[32], ident[32], after[32], inv[2048];
    double t0, t1;
    int rows = 0, pages = 0;
    if (total <= 0)
        skip();
    t0 = now_ms();
    assert_int_equal(st->ops->begin(st, &tx), ALD_STORE_OK);
    for (long i = 0; i < total; i++) {
        snprintf(name, sizeof name, "dev-%07ld", i);
        snprintf(ident, sizeof ident, "bench-%ld", i);
        assert_int_equal(tx->ops->device_create(tx, device(name, ident)), ALD_STORE_OK);
        inventory(inv, sizeof inv, i % 10 ? "3.0.0" : "3.1.0", "1.0.0");
        assert_int_equal(tx->ops->device_report(tx, name, inv, 1000 + i, -1), ALD_STORE_OK);
    }
    assert_int_equal(tx->ops->commit(tx), ALD_STORE_OK);
    t1 = now_ms();
    print_message("bench: %ld devices created and reported in %.0f ms\n", total, t1 - t0);

    /* Pages of 100 from the middle, no filter. */
    f.limit = 100;
    t0 = now_ms();
    for (int i = 0; i < 200; i++) {
        snprintf(after, sizeof after, "dev-%07ld", (long)(i * (total / 200)));
        f.after_name = after;
        rows = 0;
        assert_int_equal(st->ops->device_query(st, &f, count_summary, &rows), ALD_STORE_OK);
        pages++;
    }
    t1 = now_ms();
    print_message("bench: page of 100 (keyset, no filter): %.3f ms\n", (t1 - t0) / pages);
    /* Pages of 100 with a module filter matching 1 in 10. */
    f.function = "system";
    f.index = 1;
    f.version = "3.1.0";
    pages = 0;
    t0 = now_ms();
    for (int i = 0; i < 50; i++) {
        snprintf(after, sizeof after, "dev-%07ld", (long)(i * (total / 100)));
        f.after_name = after;
        rows = 0;
        assert_int_equal(st->ops->device_query(st, &f, count_summary, &rows), ALD_STORE_OK);
        pages++;
    }
    t1 = now_ms();
    print_message("bench: page of 100 (module version, 1 in 10): %.3f ms\n", (t1 - t0) / pages);
    f = any();
    uint64_t n = 0;
    t0 = now_ms();
    assert_int_equal(st->ops->device_count(st, &f, &n), ALD_STORE_OK);
    t1 = now_ms();
    assert_int_equal(n, (uint64_t)total);
    print_message("bench: device_count of all: %.3f ms\n", t1 - t0);
    struct mv mv;
    memset(&mv, 0, sizeof mv);
    t0 = now_ms();
    assert_int_equal(st->ops->module_versions(st, 0, collect_mv, &mv), ALD_STORE_OK);
    t1 = now_ms();
    print_message("bench: module_versions: %.3f ms (%s)\n", t1 - t0, mv.out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_and_foreign_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates, setup, teardown),
        cmocka_unit_test(test_version_sort_key),
        cmocka_unit_test_setup_teardown(test_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_ingest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_images_rekeyed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_filters, setup, teardown),
        cmocka_unit_test(test_listen_parse),
        cmocka_unit_test_setup_teardown(test_config_file_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_helper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_with_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bookkeeping_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_sorts, setup, teardown), /* issue 13 */
        cmocka_unit_test_setup_teardown(test_rollout_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modules_backfill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_and_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_bench, setup, teardown),
    };
    ald_log_setup(ALD_LOG_ERROR, false); /* keep expected failures quiet */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
