/*
 * fuzz_http.c - libFuzzer harness for the JSON bodies of the management API: the first byte
 * picks a handler's parse step (http_priv.h, "request bodies as pure functions"), the rest
 * is the body, read as airliftd reads it (body_object) and handed to that step. Any input
 * must be refused with a 400 whose message can be sent (valid UTF-8, so jansson can put it
 * in the error object) or parsed into values within the limits the handler then relies on.
 * A rollout's waves and target go on through the service's checks (rollouts_priv.h) and,
 * if valid, the engine's cut of a fleet into waves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "http_priv.h"
#include "planner.h"
#include "products.h"
#include "rollouts_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal must be a 400 with a machine word and a message jansson can carry. */
static void check_refusal(const struct ald_result *res)
{
    json_t *msg;
    if (ald_is_ok(res))
        return;
    if (res->code != ALD_ERR_BAD_REQUEST || !res->reason[0] || !res->msg[0])
        abort();
    if (!(msg = json_string(res->msg)))
        abort(); /* the reply would be dropped instead of sent */
    json_decref(msg);
}

/* A handler's sentence (why): sendable too. */
static void check_why(const char *why)
{
    json_t *msg;
    if (!why)
        return;
    if (!why[0] || !(msg = json_string(why)))
        abort();
    json_decref(msg);
}

static void devices_create(json_t *doc)
{
    static const char *groups[ALD_GROUPS_MAX];
    struct ald_device_new it;
    char why[ALD_RESULT_MSG_MAX + 40], at[32] = "";
    json_t *list;
    size_t n;
    struct ald_result res = devices_body_list(doc, &list, &n);
    check_refusal(&res);
    if (!ald_is_ok(&res))
        return;
    if (n < 1 || n > ALD_DEVICE_BATCH_MAX)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (list)
            snprintf(at, sizeof at, "devices[%zu]: ", i);
        const char *bad = device_new_parse(list ? json_array_get(list, i) : doc, at, &it, groups,
                                           why, sizeof why);
        check_why(bad);
        if (bad)
            return;
        if (!it.name || it.ngroups > ALD_GROUPS_MAX)
            abort();
    }
}

static void device_patch(json_t *doc)
{
    static const char *const fields[] = {"product", "groups", "channel", "pinned", "dev", NULL};
    const char *groups[ALD_GROUPS_MAX];
    struct ald_device_change ch;
    struct ald_result res = body_fields(doc, fields);
    check_refusal(&res);
    if (!ald_is_ok(&res))
        return;
    const char *why = device_change_parse(doc, &ch, groups);
    check_why(why);
    if (!why && ch.set_groups && ch.ngroups > ALD_GROUPS_MAX)
        abort();
}

static void product_create(json_t *doc)
{
    const char *name = NULL;
    uint16_t platform = 0;
    struct ald_result res = product_body_parse(doc, &name, &platform);
    check_refusal(&res);
    if (ald_is_ok(&res) && (!name || strlen(name) > ALD_NAME_MAX))
        abort();
}

static void release_create(json_t *doc)
{
    static const char *const fields[] = {"version", "channel", "images", "notes", NULL};
    struct ald_release_spec spec;
    const char *sha[ALD_PLAN_MAX_STEPS];
    struct ald_result res = body_fields(doc, fields);
    check_refusal(&res);
    if (!ald_is_ok(&res))
        return;
    res = release_body_parse(doc, &spec, sha);
    check_refusal(&res);
    if (ald_is_ok(&res) && (!spec.version || spec.nimages > ALD_PLAN_MAX_STEPS ||
                            (spec.nimages && spec.images != sha)))
        abort();
}

static void rollout_create(json_t *doc)
{
    struct rollout_body b;
    const char *product, *release;
    struct ald_result res = rollout_body_names(doc, &product, &release);
    check_refusal(&res);
    if (!ald_is_ok(&res))
        return;
    res = rollout_body_parse(doc, &b);
    check_refusal(&res);
    if (ald_is_ok(&res) &&
        (b.limit < 1 || b.limit > 1000 || b.offset > 1000000000 || b.ro.success_percent < 0 ||
         b.ro.success_percent > 101 || b.ro.error_percent < 0 || b.ro.error_percent > 101 ||
         b.ro.error_count < 0 || b.ro.rate_per_min < 0 ||
         strlen(b.ro.target_json) >= sizeof b.ro.target_json ||
         strlen(b.ro.waves_json) >= sizeof b.ro.waves_json))
        abort();
    if (!ald_is_ok(&res))
        return;
    /* The rollout service's own checks of the waves and the target, and the wave sizes the
     * engine then cuts a fleet into: every device in exactly one wave. */
    char msg[256];
    size_t sizes[ALD_ROLLOUT_MAX_WAVES];
    if (!ald_rollout_waves_valid(b.ro.waves_json, msg, sizeof msg)) {
        check_why(msg);
    } else {
        static const size_t fleets[] = {0, 1, 7, 100, 100000};
        for (size_t f = 0; f < sizeof fleets / sizeof fleets[0]; f++) {
            size_t waves = ald_wave_sizes(b.ro.waves_json, fleets[f], sizes), sum = 0;
            if (waves < 1 || waves > ALD_ROLLOUT_MAX_WAVES)
                abort();
            for (size_t i = 0; i < waves; i++)
                sum += sizes[i];
            if (sum != fleets[f])
                abort();
        }
    }
    if (!ald_rollout_target_valid(b.ro.target_json, msg, sizeof msg))
        check_why(msg);
}

static void update_create(json_t *doc)
{
    const char *sha[ALD_PLAN_MAX_STEPS];
    size_t n = 0;
    bool dry = false, replace = false;
    struct ald_result res = update_body_parse(doc, sha, &n, &dry, &replace);
    check_refusal(&res);
    if (ald_is_ok(&res)) {
        if (n < 1 || n > ALD_PLAN_MAX_STEPS)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!sha[i])
                abort();
    }
}

/* POST /v1/tokens (h_tokens.c), read at a fixed time. */
static void token_create(json_t *doc)
{
    const char *name, *scope;
    int64_t expires_at;
    struct ald_result res = token_body_parse(doc, 1764547200000, &name, &scope, &expires_at);
    check_refusal(&res);
    if (ald_is_ok(&res) && (strlen(name) > ALD_NAME_MAX || strlen(scope) > 16 || expires_at < 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void (*const steps[])(json_t *) = {devices_create, device_patch, product_create,
                                              release_create, rollout_create, update_create,
                                              token_create};
    json_t *doc = NULL;
    if (size < 1)
        return 0;
    struct ald_result res = body_object(data + 1, size - 1, &doc);
    check_refusal(&res);
    if ((doc != NULL) != ald_is_ok(&res))
        abort();
    if (doc)
        steps[data[0] % (sizeof steps / sizeof steps[0])](doc);
    json_decref(doc);
    return 0;
}
