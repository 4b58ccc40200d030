/*
 * test_rollout_rules.c - the rules of docs/fleets.md, "One desired release per device", as
 * server/core/rollout_rules.c implements them: coverage, pins, live rollouts and the
 * newest live one covering a device (the late joiner's one rollout), wave sizes. The store
 * is a fresh SQLite file per test; the rollouts are written straight into it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rollouts_priv.h"

struct fixture {
    char dir[256];
    struct ald_store *st;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char err[256], url[300];
    snprintf(fx->dir, sizeof fx->dir, "%s/ald-rules.XXXXXX",
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

static struct ald_member member(int64_t product_id, const char *groups, const char *channel,
                                const char *pinned)
{
    struct ald_member m;
    memset(&m, 0, sizeof m);
    m.id = 1;
    snprintf(m.name, sizeof m.name, "d1");
    m.product_id = product_id;
    snprintf(m.groups_json, sizeof m.groups_json, "%s", groups);
    snprintf(m.channel, sizeof m.channel, "%s", channel);
    snprintf(m.pinned, sizeof m.pinned, "%s", pinned);
    return m;
}

static struct ald_release_rec release(int64_t product_id, const char *version,
                                      const char *channel)
{
    struct ald_release_rec rel;
    memset(&rel, 0, sizeof rel);
    rel.product_id = product_id;
    snprintf(rel.version, sizeof rel.version, "%s", version);
    snprintf(rel.channel, sizeof rel.channel, "%s", channel);
    snprintf(rel.images_json, sizeof rel.images_json, "[]");
    return rel;
}

static bool covers(const char *target, const struct ald_release_rec *rel,
                   const struct ald_member *m)
{
    json_t *t = json_loads(target, 0, NULL);
    bool yes = ald_rollout_covers(t, rel, m);
    json_decref(t);
    return yes;
}

static void test_coverage(void **state)
{
    (void)state;
    struct ald_release_rec rel = release(7, "2.0.0", "stable");
    struct ald_member m = member(7, "[\"field\"]", "stable", "");
    assert_true(covers("{}", &rel, &m));                          /* the release's channel */
    assert_true(covers("{\"groups\":[\"lab\",\"field\"]}", &rel, &m));
    assert_false(covers("{\"groups\":[\"lab\"]}", &rel, &m));
    assert_false(covers("{\"channels\":[\"beta\"]}", &rel, &m));
    assert_true(covers("{\"channels\":[\"beta\",\"stable\"]}", &rel, &m));
    m.dev = true;
    assert_false(covers("{}", &rel, &m)); /* development devices never */
    m.dev = false;
    m.product_id = 8;
    assert_false(covers("{}", &rel, &m)); /* another product */
    m = member(7, "[]", "beta", "");
    assert_false(covers("{}", &rel, &m)); /* another channel than the release's */

    /* a pin does not change coverage; it keeps the device away from other versions */
    m = member(7, "[]", "stable", "1.0.0");
    assert_true(covers("{}", &rel, &m));
    assert_true(ald_member_pinned_away(&m, &rel));
    snprintf(m.pinned, sizeof m.pinned, "2.0.0");
    assert_false(ald_member_pinned_away(&m, &rel));
    m.pinned[0] = '\0';
    assert_false(ald_member_pinned_away(&m, &rel));
}

static void test_wave_sizes(void **state)
{
    (void)state;
    size_t s[ALD_ROLLOUT_MAX_WAVES];
    assert_int_equal(ald_wave_sizes("[{\"count\":1},{\"percent\":10},{\"percent\":100}]", 20, s), 3);
    assert_int_equal(s[0], 1);
    assert_int_equal(s[1], 2);
    assert_int_equal(s[2], 17);
    assert_int_equal(ald_wave_sizes("[{\"count\":1},{\"percent\":100}]", 0, s), 2);
    assert_int_equal(s[0] + s[1], 0);
    assert_int_equal(ald_wave_sizes("[{\"percent\":50}]", 5, s), 1);
    assert_int_equal(s[0], 5); /* the last wave takes the rest */
}

static int64_t add_rollout(struct ald_store *st, int64_t release_id, const char *target,
                           const char *state)
{
    struct ald_rollout_rec ro;
    memset(&ro, 0, sizeof ro);
    ro.release_id = release_id;
    snprintf(ro.target_json, sizeof ro.target_json, "%s", target);
    snprintf(ro.waves_json, sizeof ro.waves_json, "[{\"percent\":100}]");
    ro.success_percent = 100;
    snprintf(ro.state, sizeof ro.state, "running");
    assert_int_equal(st->ops->rollout_create(st, &ro), ALD_STORE_OK);
    snprintf(ro.state, sizeof ro.state, "%s", state);
    assert_int_equal(st->ops->rollout_save(st, &ro), ALD_STORE_OK);
    return ro.id;
}

/* The late joiner of the issue: two completed rollouts of the group; the device that joins
 * belongs to the newer one only. Cancelled and superseded rollouts are nobody's. */
static void test_current_rollout(void **state)
{
    struct fixture *fx = *state;
    struct ald_store *st = fx->st;
    struct ald_product_rec p, q;
    struct ald_lives lives;
    const struct ald_live *cur;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "tracker");
    p.platform = 10;
    assert_int_equal(st->ops->product_create(st, &p), ALD_STORE_OK);
    q = p;
    snprintf(q.name, sizeof q.name, "other");
    assert_int_equal(st->ops->product_create(st, &q), ALD_STORE_OK);
    struct ald_release_rec r21 = release(p.id, "2.1.0", "stable"),
                           r22 = release(p.id, "2.2.0", "stable"),
                           r23 = release(p.id, "2.3.0", "stable"),
                           r30 = release(p.id, "3.0.0", "stable"),
                           rq = release(q.id, "9.0.0", "stable");
    assert_int_equal(st->ops->release_create(st, &r21), ALD_STORE_OK);
    assert_int_equal(st->ops->release_create(st, &r22), ALD_STORE_OK);
    assert_int_equal(st->ops->release_create(st, &r23), ALD_STORE_OK);
    assert_int_equal(st->ops->release_create(st, &r30), ALD_STORE_OK);
    assert_int_equal(st->ops->release_create(st, &rq), ALD_STORE_OK);
    int64_t a = add_rollout(st, r21.id, "{\"groups\":[\"field\"]}", "completed");
    int64_t b = add_rollout(st, r22.id, "{\"groups\":[\"field\"]}", "completed");
    add_rollout(st, r23.id, "{\"groups\":[\"field\"]}", "cancelled");
    add_rollout(st, r30.id, "{}", "superseded");
    add_rollout(st, rq.id, "{}", "running"); /* another product's: never in the list */

    struct ald_member late = member(p.id, "[\"field\"]", "stable", "");
    struct ald_member lab = member(p.id, "[\"lab\"]", "stable", "");
    assert_true(ald_lives_load(st, p.id, 0, &lives));
    assert_int_equal(lives.n, 2); /* the two completed ones, newest first */
    assert_int_equal(lives.items[0].ro.id, b);
    assert_int_equal(lives.items[1].ro.id, a);
    cur = ald_lives_covering(&lives, &late);
    assert_non_null(cur);
    assert_int_equal(cur->ro.id, b);
    assert_string_equal(cur->rel.version, "2.2.0");
    assert_null(ald_lives_covering(&lives, &lab)); /* the superseded whole-channel one: no */
    ald_lives_free(&lives);

    /* only those newer than a rollout: what enroll_all leaves to them */
    assert_true(ald_lives_load(st, p.id, a, &lives));
    assert_int_equal(lives.n, 1);
    assert_int_equal(lives.items[0].ro.id, b);
    ald_lives_free(&lives);
    assert_true(ald_lives_load(st, p.id, b, &lives));
    assert_int_equal(lives.n, 0);
    ald_lives_free(&lives);

    /* a newer running rollout of the whole channel becomes everyone's current one */
    int64_t c = add_rollout(st, r30.id, "{}", "running");
    assert_true(ald_lives_load(st, p.id, 0, &lives));
    assert_int_equal(ald_lives_covering(&lives, &late)->ro.id, c);
    assert_int_equal(ald_lives_covering(&lives, &lab)->ro.id, c);
    ald_lives_free(&lives);

    assert_true(ald_rollout_state_live("paused"));
    assert_false(ald_rollout_state_live("cancelled"));
    assert_false(ald_rollout_state_live("superseded"));
    assert_true(ald_rd_state_skipped("hand_flashed"));
    assert_false(ald_rd_state_skipped("cancelled"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_wave_sizes),
        cmocka_unit_test_setup_teardown(test_current_rollout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
