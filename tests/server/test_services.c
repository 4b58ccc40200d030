/*
 * test_services.c - the core services the management API calls (server/core: tokens,
 * devices, products, releases) and their struct ald_result answers, and the one mapping of
 * results to HTTP statuses (server/http/reply.c). Each test opens a fresh store in its own
 * temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "airlift/image.h"
#include "airlift_host/image_build.h"
#include "airlift_host/keys.h"
#include "auth.h"
#include "blobs.h"
#include "devcache.h"
#include "airlift/proto.h"
#include "devices.h"
#include "images.h"
#include "updates.h"
#include "util.h"
#include "products.h"
#include "reply.h"
#include "result.h"
#include "store.h"

struct fixture {
    char dir[256];
    struct ald_store *st;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char err[256], url[300];
    snprintf(fx->dir, sizeof fx->dir, "%s/ald-services.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(url, sizeof url, "sqlite:%s/airlift.db", fx->dir);
    if (ald_store_open(url, &fx->st, err, sizeof err) != ALD_STORE_OPEN_OK)
        fail_msg("open: %s", err);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[512];
    fx->st->ops->close(fx->st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static void test_result_helpers(void **state)
{
    struct ald_result res = ald_ok();
    char long_msg[2000];
    (void)state;
    assert_int_equal(res.code, ALD_OK);
    assert_true(ald_is_ok(&res));
    assert_string_equal(res.reason, "");
    res = ald_with_detail(ald_fail(ALD_ERR_UNPROCESSABLE, "plan_error", "no %s", "order"),
                          "no_order");
    assert_false(ald_is_ok(&res));
    assert_string_equal(res.reason, "plan_error");
    assert_string_equal(res.detail, "no_order");
    assert_string_equal(res.msg, "no order");
    memset(long_msg, 'x', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    res = ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "%s", long_msg);
    assert_int_equal(strlen(res.msg), ALD_RESULT_MSG_MAX); /* cut, never overrun */
    res = ald_store_failed(ALD_STORE_ERROR);
    assert_int_equal(res.code, ALD_ERR_INTERNAL);
    assert_string_equal(res.reason, "internal");
}

static void test_http_status_mapping(void **state)
{
    static const struct { enum ald_code code; unsigned status; } map[] = {
        {ALD_OK, 200},           {ALD_ERR_BAD_REQUEST, 400}, {ALD_ERR_UNAUTHORIZED, 401},
        {ALD_ERR_FORBIDDEN, 403}, {ALD_ERR_NOT_FOUND, 404},  {ALD_ERR_EXISTS, 409},
        {ALD_ERR_CONFLICT, 409},  {ALD_ERR_TOO_LARGE, 413},  {ALD_ERR_UNPROCESSABLE, 422},
        {ALD_ERR_UNAVAILABLE, 503}, {ALD_ERR_INTERNAL, 500},
    };
    (void)state;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        assert_int_equal(http_status_of(map[i].code), map[i].status);
}

static void test_tokens(void **state)
{
    struct fixture *fx = *state;
    struct ald_token_rec rec, who;
    char admin[ALD_TOKEN_LEN + 1], reader[ALD_TOKEN_LEN + 1];
    struct ald_result res;

    res = ald_token_create(fx->st, "-bad", "read", 0, "t", reader, &rec);
    assert_int_equal(res.code, ALD_ERR_BAD_REQUEST);
    assert_non_null(strstr(res.msg, "token name"));
    res = ald_token_create(fx->st, "x", "root", 0, "t", reader, &rec);
    assert_int_equal(res.code, ALD_ERR_BAD_REQUEST);
    assert_non_null(strstr(res.msg, "scope"));

    res = ald_token_create(fx->st, "boss", "admin", 0, "t", admin, &rec);
    assert_true(ald_is_ok(&res));
    int64_t admin_id = rec.id;
    res = ald_token_create(fx->st, "viewer", "read", 0, "t", reader, &rec);
    assert_true(ald_is_ok(&res));

    res = ald_token_authenticate(fx->st, reader, ALD_SCOPE_READ, &who);
    assert_true(ald_is_ok(&res));
    assert_string_equal(who.name, "viewer");
    res = ald_token_authenticate(fx->st, reader, ALD_SCOPE_OPERATOR, &who);
    assert_int_equal(res.code, ALD_ERR_FORBIDDEN);
    assert_string_equal(res.reason, "forbidden");
    res = ald_token_authenticate(fx->st, "alt_nope", ALD_SCOPE_READ, &who);
    assert_int_equal(res.code, ALD_ERR_UNAUTHORIZED);
    assert_non_null(strstr(res.msg, "malformed"));

    res = ald_token_revoke(fx->st, 9999, "t");
    assert_int_equal(res.code, ALD_ERR_NOT_FOUND);
    res = ald_token_revoke(fx->st, admin_id, "t");
    assert_int_equal(res.code, ALD_ERR_CONFLICT);
    assert_string_equal(res.reason, "last_admin");
    res = ald_token_revoke(fx->st, rec.id, "t");
    assert_true(ald_is_ok(&res));
    res = ald_token_revoke(fx->st, rec.id, "t"); /* again: nothing to do */
    assert_true(ald_is_ok(&res));
    res = ald_token_authenticate(fx->st, reader, ALD_SCOPE_READ, &who);
    assert_int_equal(res.code, ALD_ERR_UNAUTHORIZED);
    assert_non_null(strstr(res.msg, "token 'viewer' was revoked at 20"));
    assert_false(ald_token_live(fx->st, rec.id));
    assert_true(ald_token_live(fx->st, admin_id));

    /* issue 14: an expired token is refused, saying when; its name is free again; an expiry
     * in the past is refused at creation. */
    assert_int_equal(ald_token_issue(fx->st, "old", ALD_SCOPE_READ, 1000, reader, &rec),
                     ALD_STORE_OK);
    res = ald_token_authenticate(fx->st, reader, ALD_SCOPE_READ, &who);
    assert_int_equal(res.code, ALD_ERR_UNAUTHORIZED);
    assert_string_equal(res.msg, "token 'old' expired at 1970-01-01T00:00:01.000Z");
    assert_false(ald_token_live(fx->st, rec.id));
    res = ald_token_create(fx->st, "later", "read", 1000, "t", reader, &rec);
    assert_int_equal(res.code, ALD_ERR_BAD_REQUEST);
    assert_non_null(strstr(res.msg, "expires_at"));
    res = ald_token_create(fx->st, "old", "read", ald_now_ms() + 60000, "t", reader, &rec);
    assert_true(ald_is_ok(&res));
    res = ald_token_authenticate(fx->st, reader, ALD_SCOPE_READ, &who);
    assert_true(ald_is_ok(&res));
    /* An expired admin token can be revoked while one live admin token remains. */
    assert_int_equal(ald_token_issue(fx->st, "oldboss", ALD_SCOPE_ADMIN, 1000, admin, &rec),
                     ALD_STORE_OK);
    res = ald_token_revoke(fx->st, rec.id, "t");
    assert_true(ald_is_ok(&res));
}

static void test_devices(void **state)
{
    struct fixture *fx = *state;
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_product_rec p, other;
    struct ald_device_change ch;
    const char *dup[] = {"a", "a"};
    const char *groups[] = {"north", "south"};
    struct ald_result res;

    res = ald_device_create(fx->st, "a b", 10, false, "t", d);
    assert_int_equal(res.code, ALD_ERR_BAD_REQUEST);
    res = ald_device_create(fx->st, "d1", 10, false, "t", d);
    assert_true(ald_is_ok(&res));
    assert_int_equal(d->psk_len, ALD_DEVICE_PSK_BYTES);
    res = ald_device_create(fx->st, "d1", 10, false, "t", d);
    assert_int_equal(res.code, ALD_ERR_EXISTS);
    assert_string_equal(res.msg, "device 'd1' already exists");
    res = ald_device_get(fx->st, "no/such", d);
    assert_int_equal(res.code, ALD_ERR_NOT_FOUND);
    res = ald_device_delete(fx->st, "ghost", "t");
    assert_int_equal(res.code, ALD_ERR_NOT_FOUND);
    assert_string_equal(res.msg, "device 'ghost' does not exist");

    res = ald_product_create(fx->st, "p10", 10, &p);
    assert_true(ald_is_ok(&res));
    res = ald_product_create(fx->st, "p6", 6, &other);
    assert_true(ald_is_ok(&res));
    res = ald_product_create(fx->st, "p10", 10, &other);
    assert_int_equal(res.code, ALD_ERR_EXISTS);

    memset(&ch, 0, sizeof ch);
    ch.set_product = true;
    ch.product = "p6";
    res = ald_device_change(fx->st, "d1", &ch, d);
    assert_int_equal(res.code, ALD_ERR_BAD_REQUEST);
    assert_non_null(strstr(res.msg, "another platform"));
    memset(&ch, 0, sizeof ch);
    ch.set_groups = true;
    ch.groups = dup;
    ch.ngroups = 2;
    res = ald_device_change(fx->st, "d1", &ch, d);
    assert_int_equal(res.code, ALD_ERR_BAD_REQUEST);
    assert_non_null(strstr(res.msg, "'groups'"));
    memset(&ch, 0, sizeof ch);
    ch.set_product = true;
    ch.product = "p10";
    ch.set_groups = true;
    ch.groups = groups;
    ch.ngroups = 2;
    ch.channel = "beta";
    ch.set_pinned = true;
    ch.pinned = "1.2.0";
    res = ald_device_change(fx->st, "d1", &ch, d);
    assert_true(ald_is_ok(&res));
    res = ald_device_get(fx->st, "d1", d);
    assert_true(ald_is_ok(&res));
    assert_int_equal(d->product_id, p.id);
    assert_string_equal(d->groups_json, "[\"north\",\"south\"]");
    assert_string_equal(d->channel, "beta");
    assert_string_equal(d->pinned, "1.2.0");
    free(d);
}

/* ---- issue 11 (checkin): the device rows of sessions (devcache.h) ---- */

static void test_devcache(void **state)
{
    struct ald_device_rec *d = calloc(1, sizeof *d), *got = malloc(sizeof *got);
    struct ald_devcache *c = ald_devcache_new(8, 60000), *one = ald_devcache_new(1, 60000);
    struct ald_devcache *brief = ald_devcache_new(8, 50);
    (void)state;
    d->id = 7;
    snprintf(d->name, sizeof d->name, "d7");
    snprintf(d->identity, sizeof d->identity, "id-7");
    d->psk_len = 16;
    memset(d->psk, 0xa5, d->psk_len);
    d->platform = 10;
    d->removed_at = 0;
    snprintf(d->inventory, sizeof d->inventory, "{\"modules\":[]}");

    /* Kept: the row as read, without its inventory. */
    uint64_t stamp = ald_devcache_stamp();
    ald_devcache_put(c, d, stamp);
    memset(got, 0x55, sizeof *got);
    assert_true(ald_devcache_get(c, "id-7", got));
    assert_int_equal(got->id, 7);
    assert_string_equal(got->name, "d7");
    assert_int_equal(got->psk_len, 16);
    assert_memory_equal(got->psk, d->psk, 16);
    assert_int_equal(got->platform, 10);
    assert_int_equal(got->removed_at, 0);
    assert_string_equal(got->inventory, "");
    assert_false(ald_devcache_get(c, "id-8", got));
    assert_false(ald_devcache_get(c, "", got));

    /* A committed change of a device: every row goes, in every cache. */
    ald_devcache_put(brief, d, stamp);
    ald_devcache_invalidate();
    assert_false(ald_devcache_get(c, "id-7", got));
    assert_false(ald_devcache_get(brief, "id-7", got));
    /* A read that began before the change (its stamp is older) is never kept. */
    ald_devcache_put(c, d, stamp);
    assert_false(ald_devcache_get(c, "id-7", got));
    ald_devcache_put(c, d, ald_devcache_stamp());
    assert_true(ald_devcache_get(c, "id-7", got));

    /* The session ended: dropped. */
    ald_devcache_drop(c, "id-7");
    assert_false(ald_devcache_get(c, "id-7", got));

    /* At most ttl_ms (other nodes' changes). */
    ald_devcache_put(brief, d, ald_devcache_stamp());
    assert_true(ald_devcache_get(brief, "id-7", got));
    struct timespec pause = {0, 80 * 1000000L};
    nanosleep(&pause, NULL);
    assert_false(ald_devcache_get(brief, "id-7", got));

    /* One slot, two identities: the newer takes it, the other is not answered with it. */
    ald_devcache_put(one, d, ald_devcache_stamp());
    snprintf(d->identity, sizeof d->identity, "id-9");
    d->id = 9;
    ald_devcache_put(one, d, ald_devcache_stamp());
    assert_false(ald_devcache_get(one, "id-7", got));
    assert_true(ald_devcache_get(one, "id-9", got));
    assert_int_equal(got->id, 9);
    ald_devcache_drop(one, "id-7"); /* not its row: stays */
    assert_true(ald_devcache_get(one, "id-9", got));

    ald_devcache_free(c);
    ald_devcache_free(one);
    ald_devcache_free(brief);
    ald_devcache_free(NULL);
    free(d);
    free(got);
}

/* One inventory of a device with nothing installed, through the device endpoint's ops. */
static int checkin(const struct ald_device_ops *ops, const char *identity)
{
    struct al_inventory inv;
    uint8_t msg[256], plan[256];
    size_t len = 0, plan_len = 0;
    memset(&inv, 0, sizeof inv);
    assert_int_equal(al_inventory_encode(&inv, msg, sizeof msg, &len), AL_OK);
    return ops->inventory(ops->ctx, identity, msg, len, plan, sizeof plan, &plan_len);
}

/* The session's row serves its requests; removing or changing the device invalidates it at
 * once (the next request of the same session sees it), without a new handshake. */
static void test_session_rows(void **state)
{
    struct fixture *fx = *state;
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_device_change ch;
    struct ald_updates *u = NULL;
    uint8_t key[ALD_PSK_MAX];
    uint64_t hits0, misses0, hits, misses;
    struct ald_result res = ald_device_create(fx->st, "s1", 10, false, "t", d);
    assert_true(ald_is_ok(&res));
    assert_int_equal(ald_updates_open(&u, fx->st, fx->dir), 0);
    struct ald_device_ops ops = ald_updates_device_ops(u);

    assert_int_equal(ops.psk_lookup(ops.ctx, d->identity, key), (int)d->psk_len);
    assert_memory_equal(key, d->psk, d->psk_len);
    ald_devcache_counts(&hits0, &misses0);
    assert_int_equal(checkin(&ops, d->identity), 68);
    ald_devcache_counts(&hits, &misses);
    assert_true(hits > hits0); /* the handshake's row, not another read */
    assert_int_equal(misses, misses0);

    /* A fleet change: read again. */
    memset(&ch, 0, sizeof ch);
    ch.channel = "beta";
    res = ald_device_change(fx->st, "s1", &ch, d);
    assert_true(ald_is_ok(&res));
    assert_int_equal(checkin(&ops, d->identity), 68);
    ald_devcache_counts(&hits0, &misses0);
    assert_int_equal(misses0, misses + 1);

    /* Disabled mid-session: the very next inventory is refused (4.03); enabled, served. */
    memset(&ch, 0, sizeof ch);
    ch.set_disabled = true;
    ch.disabled = true;
    res = ald_device_change(fx->st, "s1", &ch, d);
    assert_true(ald_is_ok(&res));
    assert_int_equal(checkin(&ops, d->identity), ALD_COAP_REMOVED);
    ch.disabled = false;
    res = ald_device_change(fx->st, "s1", &ch, d);
    assert_true(ald_is_ok(&res));
    assert_int_equal(checkin(&ops, d->identity), 68);

    /* A session ended by its idle timeout: last seen when the device last spoke, not
     * when the timeout fired. */
    int64_t before = ald_now_ms();
    ops.account(ops.ctx, d->identity, 10, 10, true, 30000);
    struct ald_device_rec *seen = malloc(sizeof *seen);
    assert_non_null(seen);
    assert_int_equal(fx->st->ops->device_get(fx->st, "s1", seen), ALD_STORE_OK);
    assert_in_range(seen->last_seen_at, before - 30000, ald_now_ms() - 30000);
    free(seen);
    assert_int_equal(checkin(&ops, d->identity), 68);

    /* Removed mid-session: the very next inventory is told so (4.03). */
    res = ald_device_delete(fx->st, "s1", "t");
    assert_true(ald_is_ok(&res));
    assert_int_equal(checkin(&ops, d->identity), ALD_COAP_REMOVED);
    /* The session ends; a new handshake of the removed device still completes (4.03
     * next), as before. */
    ops.account(ops.ctx, d->identity, 10, 10, true, 0);
    assert_int_equal(ops.psk_lookup(ops.ctx, d->identity, key), (int)d->psk_len);
    assert_int_equal(checkin(&ops, d->identity), ALD_COAP_REMOVED);
    assert_int_equal(ops.psk_lookup(ops.ctx, "no-such-identity", key), -1);
    ald_updates_close(u);
    free(d);
}

static void test_releases(void **state)
{
    struct fixture *fx = *state;
    struct ald_product_rec p;
    struct ald_release_rec rel;
    const char *unknown[] = {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
    struct ald_release_spec spec = {"1.0.0", NULL, NULL, unknown, 1};
    struct ald_result res = ald_product_create(fx->st, "p", 10, &p);
    assert_true(ald_is_ok(&res));
    res = ald_release_create(fx->st, &p, &spec, &rel);
    assert_int_equal(res.code, ALD_ERR_UNPROCESSABLE);
    assert_string_equal(res.reason, "unknown_image");
    spec.version = "one";
    res = ald_release_create(fx->st, &p, &spec, &rel);
    assert_int_equal(res.code, ALD_ERR_BAD_REQUEST);
    assert_non_null(strstr(res.msg, "semantic version"));
    spec.version = "1.0.0";
    spec.nimages = 0;
    res = ald_release_create(fx->st, &p, &spec, &rel);
    assert_int_equal(res.code, ALD_ERR_BAD_REQUEST);
    assert_non_null(strstr(res.msg, "'images'"));
    res = ald_release_get(fx->st, &p, "1.0.0", &rel);
    assert_int_equal(res.code, ALD_ERR_NOT_FOUND);
    assert_string_equal(res.msg, "product 'p' has no release 1.0.0");
    res = ald_product_get(fx->st, "q", &p);
    assert_int_equal(res.code, ALD_ERR_NOT_FOUND);
}

/* ---- images named by id (issue 12) ---- */

/* A signed application image of payload[0..n) with this security counter, by a new key. */
static uint8_t *signed_app(const uint8_t *payload, size_t n, uint32_t counter, size_t *len)
{
    struct al_image_header t;
    alh_key *key = NULL;
    uint8_t *img = NULL;
    char err[256];
    memset(&t, 0, sizeof t);
    t.function = AL_FN_APPLICATION;
    t.index = 1;
    t.platform = 10;
    t.security_counter = counter;
    t.link_address = 0x08080000;
    assert_int_equal(al_version_parse("1.1.0", 5, &t.version), AL_OK);
    assert_int_equal(alh_key_generate(&key, err, sizeof err), 0);
    assert_int_equal(alh_image_build(&t, payload, n, key, &img, len, err, sizeof err), 0);
    alh_key_free(key);
    return img;
}

static void test_images_by_id(void **state)
{
    struct fixture *fx = *state;
    struct ald_image_rec *a = malloc(sizeof *a), *b = malloc(sizeof *b), *got = malloc(sizeof *got);
    struct ald_update_rec *upd = malloc(sizeof *upd);
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_updates *u = NULL;
    struct ald_product_rec p;
    struct ald_release_rec rel;
    uint8_t payload[2000], *fa, *fb;
    size_t la, lb;
    bool created;
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 13 + 1);
    fa = signed_app(payload, sizeof payload, 1, &la);
    fb = signed_app(payload, sizeof payload, 2, &lb); /* the same payload, signed again */

    struct ald_result res = ald_image_create(fx->st, fx->dir, fa, la, "t", a, &created);
    assert_true(ald_is_ok(&res) && created);
    res = ald_image_create(fx->st, fx->dir, fb, lb, "t", b, &created);
    assert_true(ald_is_ok(&res) && created); /* was 409 "already held with a different header" */
    assert_string_equal(a->sha256, b->sha256);
    assert_string_not_equal(a->id, b->id);
    res = ald_image_create(fx->st, fx->dir, fb, lb, "t", got, &created);
    assert_true(ald_is_ok(&res) && !created);
    assert_string_equal(got->id, b->id);

    /* The payload hash names two images: 409, both named; the ids name one each. */
    res = ald_image_resolve(fx->st, a->sha256, got);
    assert_int_equal(res.code, ALD_ERR_CONFLICT);
    assert_string_equal(res.reason, "ambiguous_image");
    assert_string_equal(res.detail, a->sha256);
    assert_non_null(strstr(res.msg, a->id));
    assert_non_null(strstr(res.msg, b->id));
    res = ald_image_resolve(fx->st, b->id, got);
    assert_true(ald_is_ok(&res));
    assert_int_equal(got->security_counter, 2);

    /* A release by the payload hash: 409; by the id: kept as the id. */
    res = ald_product_create(fx->st, "p", 10, &p);
    assert_true(ald_is_ok(&res));
    const char *by_payload[] = {a->sha256}, *by_id[] = {b->id};
    struct ald_release_spec spec = {"1.0.0", NULL, NULL, by_payload, 1};
    res = ald_release_create(fx->st, &p, &spec, &rel);
    assert_int_equal(res.code, ALD_ERR_CONFLICT);
    assert_non_null(strstr(res.msg, "images[0]: 2 images have payload"));
    spec.images = by_id;
    res = ald_release_create(fx->st, &p, &spec, &rel);
    assert_true(ald_is_ok(&res));
    char want[80];
    snprintf(want, sizeof want, "[\"%s\"]", b->id);
    assert_string_equal(rel.images_json, want);

    /* An update of the re-signed image plans that image, not its twin. */
    assert_int_equal(ald_updates_open(&u, fx->st, fx->dir), 0);
    res = ald_device_create(fx->st, "d", 10, false, "t", dev);
    assert_true(ald_is_ok(&res));
    res = ald_updates_queue(u, "d", by_payload, 1, true, upd, 0);
    assert_int_equal(res.code, ALD_ERR_CONFLICT);
    res = ald_updates_queue(u, "d", by_id, 1, false, upd, 0);
    assert_true(ald_is_ok(&res));
    assert_string_equal(upd->wanted_json, want);
    assert_non_null(strstr(upd->steps_json, b->id));
    assert_null(strstr(upd->steps_json, a->id));

    /* Removal: refused while the release and the update need b; a goes, with its blob. */
    res = ald_image_remove(fx->st, fx->dir, b->id, "t", got);
    assert_int_equal(res.code, ALD_ERR_CONFLICT);
    assert_string_equal(res.reason, "image_in_use");
    assert_non_null(strstr(res.msg, "release p 1.0.0"));
    assert_non_null(strstr(res.msg, "(device d)"));
    res = ald_image_remove(fx->st, fx->dir, a->id, "t", got);
    assert_true(ald_is_ok(&res));
    assert_false(ald_blob_exists(fx->dir, ALD_BLOB_IMAGE, a->id, NULL));
    assert_true(ald_blob_exists(fx->dir, ALD_BLOB_IMAGE, b->id, NULL));
    res = ald_image_resolve(fx->st, a->sha256, got); /* the payload names one image again */
    assert_true(ald_is_ok(&res));
    assert_string_equal(got->id, b->id);

    ald_updates_close(u);
    free(fa);
    free(fb);
    free(a);
    free(b);
    free(got);
    free(upd);
    free(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_helpers),
        cmocka_unit_test(test_http_status_mapping),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test(test_devcache),                                    /* issue 11 */
        cmocka_unit_test_setup_teardown(test_session_rows, setup, teardown), /* issue 11 */
        cmocka_unit_test_setup_teardown(test_releases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_images_by_id, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
