/*
 * store.c - backend-independent helpers of the storage interface (store.h).
 */
#include "store.h"
#include "events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "airlift/version.h"

const char *ald_scope_name(enum ald_scope scope)
{
    switch (scope) {
    case ALD_SCOPE_READ:
        return "read";
    case ALD_SCOPE_OPERATOR:
        return "operator";
    case ALD_SCOPE_ADMIN:
        return "admin";
    }
    return "unknown";
}

enum ald_scope ald_scope_parse(const char *s)
{
    if (!strcmp(s, "read"))
        return ALD_SCOPE_READ;
    if (!strcmp(s, "operator"))
        return ALD_SCOPE_OPERATOR;
    if (!strcmp(s, "admin"))
        return ALD_SCOPE_ADMIN;
    return (enum ald_scope)0;
}

/* Append s to out at *len; false if it would not fit with the NUL. */
static bool key_put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > cap)
        return false;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

bool ald_version_sort_key(const struct al_version *v, char *out, size_t cap)
{
    char num[40];
    size_t len = 0;
    int n = snprintf(num, sizeof num, "%010u.%010u.%010u", (unsigned)v->major,
                     (unsigned)v->minor, (unsigned)v->patch);
    if (cap == 0 || !key_put(out, cap, &len, num, (size_t)n))
        return false;
    if (v->pre[0] == '\0')
        return key_put(out, cap, &len, "~", 1);
    /* Each dot-separated identifier: numeric ones padded so they compare as numbers. */
    for (const char *id = v->pre; *id;) {
        const char *end = strchr(id, '.');
        size_t idlen = end ? (size_t)(end - id) : strlen(id);
        bool numeric = idlen > 0;
        for (size_t i = 0; i < idlen; i++)
            if (id[i] < '0' || id[i] > '9')
                numeric = false;
        if (numeric) {
            char pad[20];
            size_t zeros = idlen < 16 ? 16 - idlen : 0;
            memset(pad, '0', zeros);
            if (!key_put(out, cap, &len, "!#", 2) || !key_put(out, cap, &len, pad, zeros) ||
                !key_put(out, cap, &len, id, idlen))
                return false;
        } else if (!key_put(out, cap, &len, "!$", 2) || !key_put(out, cap, &len, id, idlen)) {
            return false;
        }
        id += idlen;
        if (*id == '.')
            id++;
    }
    return true;
}

enum ald_store_rc ald_event_emit(struct ald_store *st, const char *type, const char *device,
                                 int64_t update_id, const char *data_json)
{
    return ald_event_emit_rollout(st, type, device, update_id, 0, data_json);
}

enum ald_store_rc ald_event_emit_rollout(struct ald_store *st, const char *type,
                                         const char *device, int64_t update_id,
                                         int64_t rollout_id, const char *data_json)
{
    struct ald_event_rec ev;
    memset(&ev, 0, sizeof ev);
    if (strlen(type) > ALD_EVENT_TYPE_MAX || (device && strlen(device) > ALD_NAME_MAX) ||
        (data_json && strlen(data_json) >= sizeof ev.data))
        return ALD_STORE_ERROR;
    memcpy(ev.type, type, strlen(type) + 1);
    if (device)
        memcpy(ev.device, device, strlen(device) + 1);
    ev.update_id = update_id;
    ev.rollout_id = rollout_id;
    if (data_json)
        memcpy(ev.data, data_json, strlen(data_json) + 1);
    else
        memcpy(ev.data, "{}", 3);
    ald_event_actor_for(type, rollout_id, ev.actor); /* events.h: who did it */
    return st->ops->event_append(st, &ev);
}

const char *ald_store_rc_name(enum ald_store_rc rc)
{
    switch (rc) {
    case ALD_STORE_OK:
        return "ok";
    case ALD_STORE_NOT_FOUND:
        return "not_found";
    case ALD_STORE_EXISTS:
        return "exists";
    case ALD_STORE_ERROR:
        return "error";
    case ALD_STORE_RETRY:
        return "retry";
    case ALD_STORE_CONFLICT:
        return "conflict";
    case ALD_STORE_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown";
}

#define TXN_RETRIES 5

static enum ald_store_rc txn(struct ald_store *st, bool bookkeeping,
                             enum ald_store_rc (*fn)(struct ald_store *tx, void *ctx), void *ctx)
{
    enum ald_store_rc rc = ALD_STORE_RETRY;
    for (int attempt = 0; attempt <= TXN_RETRIES; attempt++) {
        struct ald_store *tx = NULL;
        if (attempt > 0) {
            /* 2, 4, 6, ... ms: lets the winner of the race finish. */
            struct timespec pause = {0, 2000000L * attempt};
            nanosleep(&pause, NULL);
        }
        rc = bookkeeping ? st->ops->begin_bookkeeping(st, &tx) : st->ops->begin(st, &tx);
        if (rc == ALD_STORE_RETRY)
            continue;
        if (rc != ALD_STORE_OK)
            return rc;
        rc = fn(tx, ctx);
        if (rc != ALD_STORE_OK) {
            st->ops->rollback(tx);
            if (rc == ALD_STORE_RETRY)
                continue;
            return rc;
        }
        rc = st->ops->commit(tx);
        if (rc != ALD_STORE_RETRY)
            return rc;
    }
    return rc;
}

enum ald_store_rc ald_store_txn(struct ald_store *st,
                                enum ald_store_rc (*fn)(struct ald_store *tx, void *ctx),
                                void *ctx)
{
    return txn(st, false, fn, ctx);
}

enum ald_store_rc ald_store_txn_bookkeeping(struct ald_store *st,
                                            enum ald_store_rc (*fn)(struct ald_store *tx,
                                                                    void *ctx),
                                            void *ctx)
{
    return txn(st, true, fn, ctx);
}

static enum ald_store_rc write_with_event_tx(struct ald_store *tx, void *ctx)
{
    const struct ald_event_write *w = ctx;
    enum ald_store_rc rc = w->write(tx, w->ctx);
    if (rc != ALD_STORE_OK)
        return rc;
    return ald_event_emit_rollout(tx, w->type, w->device, w->update_id, w->rollout_id,
                                  w->data_json);
}

enum ald_store_rc ald_store_write_with_event(struct ald_store *st, const struct ald_event_write *w)
{
    return ald_store_txn(st, write_with_event_tx, (void *)w);
}
