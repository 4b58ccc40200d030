/*
 * test_store.c - airliftd's storage (SQLite backend through the store.h interface), image
 * intake, settings and helpers. Each test opens a fresh store in its own temporary
 * directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "airlift/version.h"
#include "airlift_host/image_build.h"
#include "airlift_host/keys.h"
#include "auth.h"
#include "config.h"
#include "images.h"
#include "log.h"
#include "store.h"

/* Append s and a comma to out (cap 256), bounded. */
static void append_item(char *out, const char *s)
{
    size_t len = strlen(out);
    snprintf(out + len, 256 - len, "%s,", s);
}

struct fixture {
    char dir[256];
    struct ald_store *st;
};

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char err[256];
    snprintf(fx->dir, sizeof fx->dir, "%s/ald-store.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    if (ald_store_sqlite_open(fx->dir, &fx->st, err, sizeof err) != 0)
        fail_msg("open: %s", err);
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

/* ---- migrations ---- */

static void test_migrations_idempotent(void **state)
{
    struct fixture *fx = *state;
    char err[256];
    int v = 0;
    assert_int_equal(fx->st->ops->schema_version(fx->st, &v), ALD_STORE_OK);
    assert_int_equal(v, ald_store_sqlite_latest_schema());
    fx->st->ops->close(fx->st);
    fx->st = NULL;
    /* Reopening applies nothing and changes nothing. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ald_store_sqlite_open(fx->dir, &fx->st, err, sizeof err), 0);
        assert_int_equal(fx->st->ops->schema_version(fx->st, &v), ALD_STORE_OK);
        assert_int_equal(v, ald_store_sqlite_latest_schema());
        fx->st->ops->close(fx->st);
        fx->st = NULL;
    }
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *fx = *state;
    char path[512], err[256];
    sqlite3 *db;
    fx->st->ops->close(fx->st);
    fx->st = NULL;
    snprintf(path, sizeof path, "%s/airlift.db", fx->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999, 0)", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ald_store_sqlite_open(fx->dir, &fx->st, err, sizeof err), -1);
    assert_null(fx->st);
    assert_non_null(strstr(err, "newer"));
}

static void test_wal_and_foreign_keys(void **state)
{
    struct fixture *fx = *state;
    char path[512];
    sqlite3 *db;
    sqlite3_stmt *stmt;
    snprintf(path, sizeof path, "%s/airlift.db", fx->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* ---- tokens ---- */

static void test_tokens(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_token_rec rec, got;
    char token[ALD_TOKEN_LEN + 1];
    uint8_t hash[32];

    assert_int_equal(ald_token_issue(st, "ci", ALD_SCOPE_OPERATOR, token, &rec), ALD_STORE_OK);
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

    assert_int_equal(st->ops->device_report(st, "alpha", "{\"modules\":[]}", 5000), ALD_STORE_OK);
    assert_int_equal(st->ops->device_get(st, "alpha", got), ALD_STORE_OK);
    assert_string_equal(got->inventory, "{\"modules\":[]}");
    assert_int_equal(got->reported_at, 5000);
    assert_int_equal(got->last_seen_at, 5000);
    assert_int_equal(st->ops->device_report(st, "nope", "{}", 1), ALD_STORE_NOT_FOUND);

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

static struct ald_image_rec *image_rec(const char *sha_digit, const char *version)
{
    static struct ald_image_rec m;
    memset(&m, 0, sizeof m);
    memset(m.sha256, sha_digit[0], 64);
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
    assert_true(ald_image_blob_path(fx->dir, rec->sha256, path, sizeof path));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((size_t)sb.st_size, len);

    /* The same file again: held already. */
    assert_int_equal(ald_image_ingest(st, fx->dir, img, len, rec, code, sizeof code, msg,
                                      sizeof msg),
                     ALD_INGEST_SAME);
    /* The same payload under another header: refused. */
    other = build_image("1.2.4", payload, sizeof payload, &other_len);
    assert_int_equal(ald_image_ingest(st, fx->dir, other, other_len, rec, code, sizeof code, msg,
                                      sizeof msg),
                     ALD_INGEST_CONFLICT);
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

    /* Deleting the device deletes its updates. */
    assert_int_equal(st->ops->device_delete(st, "e1"), ALD_STORE_OK);
    assert_int_equal(st->ops->update_get(st, first, got), ALD_STORE_NOT_FOUND);
    free(dev);
    free(u);
    free(got);
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
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_filters, setup, teardown),
        cmocka_unit_test(test_listen_parse),
        cmocka_unit_test_setup_teardown(test_config_file_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_files, setup, teardown),
    };
    ald_log_setup(ALD_LOG_ERROR, false); /* keep expected failures quiet */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
