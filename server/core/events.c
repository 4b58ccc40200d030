/*
 * events.c - see events.h.
 */
#include "events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

enum actor_kind { ACTOR_NONE, ACTOR_TOKEN, ACTOR_DEVICE };
static _Thread_local enum actor_kind actor_kind;
static _Thread_local char actor_name[ALD_EVENT_ACTOR_MAX + 1];

void ald_event_actor_token(const char *name)
{
    if (!name || !*name || strlen(name) > ALD_EVENT_ACTOR_MAX) {
        ald_event_actor_clear();
        return;
    }
    actor_kind = ACTOR_TOKEN;
    snprintf(actor_name, sizeof actor_name, "%s", name);
    ald_log_token(name); /* issue 14 (tokens): the log lines name it too */
}

void ald_event_actor_device(void)
{
    actor_kind = ACTOR_DEVICE;
    actor_name[0] = '\0';
    ald_log_token(NULL);
}

void ald_event_actor_clear(void)
{
    actor_kind = ACTOR_NONE;
    actor_name[0] = '\0';
    ald_log_token(NULL);
}

void ald_event_actor_for(const char *type, int64_t rollout_id, char out[ALD_EVENT_ACTOR_MAX + 1])
{
    /* What a rollout does by itself: its own events and the updates it queues (maybe on
     * the device thread, when a device's report lets the next wave start). */
    bool rollouts_own = rollout_id && (!strncmp(type, "rollout.", 8) ||
                                       !strcmp(type, "update.queued"));
    if (actor_kind == ACTOR_TOKEN)
        snprintf(out, ALD_EVENT_ACTOR_MAX + 1, "%s", actor_name);
    else if (rollouts_own || (actor_kind == ACTOR_NONE && rollout_id))
        snprintf(out, ALD_EVENT_ACTOR_MAX + 1, "rollout %" PRId64, rollout_id);
    else if (actor_kind == ACTOR_DEVICE)
        snprintf(out, ALD_EVENT_ACTOR_MAX + 1, "device");
    else
        snprintf(out, ALD_EVENT_ACTOR_MAX + 1, "airliftd");
}

static int any_event(void *ctx, const struct ald_event_rec *e)
{
    (void)e;
    *(bool *)ctx = true;
    return 1;
}

struct ald_result ald_event_device_known(struct ald_store *st, const char *name, bool *known)
{
    struct ald_device_rec *d = malloc(sizeof *d);
    struct ald_event_filter f;
    enum ald_store_rc rc;
    *known = false;
    if (!d)
        return ald_store_failed(ALD_STORE_ERROR);
    rc = st->ops->device_get(st, name, d);
    free(d);
    if (rc == ALD_STORE_OK) {
        *known = true;
        return ald_ok();
    }
    if (rc != ALD_STORE_NOT_FOUND)
        return ald_store_failed(rc);
    memset(&f, 0, sizeof f);
    f.device = name;
    f.limit = 1;
    rc = st->ops->event_list(st, &f, any_event, known);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_event_list(struct ald_store *st, const struct ald_event_filter *f,
                                 ald_event_cb each, void *ctx)
{
    enum ald_store_rc rc = st->ops->event_list(st, f, each, ctx);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_event_last_id(struct ald_store *st, int64_t *out)
{
    enum ald_store_rc rc;
    *out = 0;
    rc = st->ops->event_last_id(st, out);
    return rc == ALD_STORE_OK ? ald_ok() : ald_store_failed(rc);
}

struct ald_result ald_health(struct ald_store *st, int *schema_version, const char **backend)
{
    *schema_version = 0;
    *backend = st->ops->backend;
    if (st->ops->schema_version(st, schema_version) != ALD_STORE_OK)
        return ald_fail(ALD_ERR_UNAVAILABLE, "unavailable", "the database does not answer");
    return ald_ok();
}
