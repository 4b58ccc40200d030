/*
 * h_events.c - GET /v1/events: the event log, filtered (docs/api.md, "Events"). The live
 * stream of the same events is h_stream.c.
 */
#include <string.h>

#include "events.h"
#include "http_priv.h"
#include "airlift_common/parse.h"
#include "airlift_common/timeparse.h"
#include "reply.h"
#include "updates.h"
#include "util.h"

#define EVENTS_DEFAULT_LIMIT 100
#define EVENTS_MAX_LIMIT 1000

json_t *event_json(const struct ald_event_rec *e)
{
    json_t *data = json_loads(e->data, 0, NULL);
    json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "id", (json_int_t)e->id, "ts",
                     ald_time_json(e->ts), "device",
                     e->device[0] ? json_string(e->device) : json_null(), "update_id",
                     e->update_id ? json_integer(e->update_id) : json_null(), "rollout_id",
                     e->rollout_id ? json_integer(e->rollout_id) : json_null(), "type",
                     e->type, "actor", e->actor[0] ? json_string(e->actor) : json_null(),
                     "data", data ? data : json_object());
    if (o) /* issue 12: the device's id, which a new device of the same name does not share */
        json_object_set_new(o, "device_id", e->device_id ? json_integer(e->device_id) : json_null());
    return o;
}

static int collect_event(void *ctx, const struct ald_event_rec *e)
{
    return json_array_append_new(ctx, event_json(e));
}

/* A type prefix: 1..EVENT_PREFIX_MAX of [a-z.]. */
static bool type_prefix_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > EVENT_PREFIX_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '.'))
            return false;
    return true;
}

bool parse_after(const char *s, int64_t *out)
{
    return alc_parse_id(s, true, out);
}

bool event_filter_params(struct MHD_Connection *c, struct req *r, struct ald_event_filter *f,
                         enum MHD_Result *ret)
{
    const char *device = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "device");
    const char *update = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "update");
    const char *rollout = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "rollout");
    const char *type = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "type");
    const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    const char *until = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "until");
    const char *bad = NULL;
    int64_t now = ald_now_ms();

    if (device && !alc_name_valid(device))
        bad = "'device' must be a device name";
    else if (update && !parse_id(update, &f->update_id))
        bad = "'update' must be an update id (a positive integer)";
    else if (rollout && !parse_id(rollout, &f->rollout_id))
        bad = "'rollout' must be a rollout id (a positive integer)";
    else if (type && !type_prefix_valid(type))
        bad = "'type' must be 1..31 of [a-z.], the start of event types (\"update.\")";
    else if (after && !parse_after(after, &f->after_id))
        bad = "'after' must be an event id";
    else if (since && !alc_parse_time(since, now, &f->since_ms))
        bad = "'since' must be an RFC 3339 time (2026-11-24T21:00:00Z), a date (2026-11-24) "
              "or a time ago (90s, 15m, 2h, 7d, 1w)";
    else if (until && !alc_parse_time(until, now, &f->until_ms))
        bad = "'until' must be an RFC 3339 time (2026-11-24T21:00:00Z), a date (2026-11-24) "
              "or a time ago (90s, 15m, 2h, 7d, 1w)";
    /* issue 12: a removed device's history, by its id (the name may belong to another). */
    const char *device_id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "device_id");
    if (!bad && device_id && !parse_id(device_id, &f->device_id))
        bad = "'device_id' must be a device id (a positive integer)";
    if (bad) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", bad);
        return false;
    }
    if (until && f->until_ms == 0)
        f->until_ms = 1; /* until the epoch: nothing (0 would mean no bound) */
    f->device = device;
    f->type_prefix = type;
    if (device) { /* a name no device ever had is a typo, not a quiet device */
        bool known = false;
        struct ald_result res = ald_event_device_known(r->store, device, &known);
        if (ald_is_ok(&res) && !known)
            res = ald_fail(ALD_ERR_NOT_FOUND, "not_found", "device '%s' does not exist", device);
        if (!ald_is_ok(&res)) {
            *ret = reply_result(c, r, &res); /* with "did you mean" */
            return false;
        }
    }
    return true;
}

/* GET /v1/events: the filters, then limit (the oldest N) or last (the newest N), before. */
HANDLER(h_events_list)
{
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    const char *last = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last");
    const char *before = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "before");
    struct ald_event_filter f = {.limit = EVENTS_DEFAULT_LIMIT};
    enum MHD_Result ret = MHD_NO;
    struct ald_result res;
    int64_t n;
    json_t *arr;

    if (!event_filter_params(c, r, &f, &ret))
        return ret;
    if (limit && last)
        return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "'limit' (the oldest N) and 'last' (the newest N): give one");
    if (limit || last) {
        if (!parse_id(limit ? limit : last, &n) || n > EVENTS_MAX_LIMIT)
            return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "'%s' must be 1..%d", limit ? "limit" : "last", EVENTS_MAX_LIMIT);
        f.limit = (size_t)n;
        f.newest = last != NULL;
    }
    if (before && !parse_id(before, &f.before_id))
        return reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "'before' must be an event id (a positive integer)");
    if (!(arr = json_array()))
        return MHD_NO;
    res = ald_event_list(h->store, &f, collect_event, arr);
    if (!ald_is_ok(&res)) {
        json_decref(arr);
        return reply_result(c, r, &res);
    }
    if (f.newest) { /* read newest first; answered oldest first like every page */
        json_t *asc = json_array();
        for (size_t i = json_array_size(arr); asc && i > 0; i--)
            json_array_append(asc, json_array_get(arr, i - 1));
        json_decref(arr);
        if (!(arr = asc))
            return MHD_NO;
    }
    return reply_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "events", arr));
}
