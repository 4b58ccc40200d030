/*
 * proto.c - device protocol messages (docs/protocol.md): strict, bounded codecs shared by
 * the update agent and the server.
 */
#include <stdbool.h>
#include <string.h>

#include "airlift/proto.h"
#include "bytes.h"

static size_t reason_len(const char *s)
{
    size_t n = 0;
    while (n < AL_REASON_MAX - 1 && s[n])
        n++;
    return n;
}

al_err al_inventory_encode(const struct al_inventory *inv, uint8_t *buf, size_t cap, size_t *len)
{
    size_t r = reason_len(inv->reason), at = AL_PROTO_INVENTORY_FIXED + r;
    if (inv->module_count > AL_PROTO_MAX_MODULES)
        return AL_ERR_INVALID_ARG;
    if (cap < at)
        return AL_ERR_BUFFER_TOO_SMALL;
    buf[0] = AL_PROTO_VERSION;
    buf[1] = inv->flags;
    buf[2] = inv->boot_state;
    buf[3] = inv->last_result;
    buf[4] = inv->last_err;
    buf[5] = inv->module_count;
    al_put16(buf + 6, inv->next_checkin_s);
    al_put32(buf + 8, inv->dl_plan_id);
    buf[12] = inv->dl_step;
    al_put32(buf + 13, inv->dl_offset);
    buf[17] = inv->dl_result;
    buf[18] = inv->dl_err;
    buf[19] = (uint8_t)r;
    memcpy(buf + AL_PROTO_INVENTORY_FIXED, inv->reason, r);
    for (uint8_t i = 0; i < inv->module_count; i++) {
        const struct al_module_status *s = &inv->modules[i];
        char text[AL_VERSION_STR_MAX];
        size_t v = al_version_format(&s->version, text, sizeof text);
        if (v == 0)
            return AL_ERR_INVALID_ARG;
        if (cap - at < AL_PROTO_MODULE_FIXED + v)
            return AL_ERR_BUFFER_TOO_SMALL;
        uint8_t *m = buf + at;
        m[0] = s->function;
        m[1] = s->index;
        m[2] = (uint8_t)((s->present ? 1u : 0u) | (s->on_trial ? 2u : 0u));
        m[3] = (uint8_t)v;
        memcpy(m + 4, text, v);
        memcpy(m + 4 + v, s->payload_sha256, AL_SHA256_SIZE);
        at += AL_PROTO_MODULE_FIXED + v;
    }
    *len = at;
    return AL_OK;
}

al_err al_inventory_decode(const uint8_t *buf, size_t len, struct al_inventory *inv)
{
    if (len < AL_PROTO_INVENTORY_FIXED || buf[0] != AL_PROTO_VERSION)
        return AL_ERR_PROTOCOL;
    memset(inv, 0, sizeof *inv);
    inv->flags = buf[1];
    inv->boot_state = buf[2];
    inv->last_result = buf[3];
    inv->last_err = buf[4];
    inv->module_count = buf[5];
    inv->next_checkin_s = al_get16(buf + 6);
    inv->dl_plan_id = al_get32(buf + 8);
    inv->dl_step = buf[12];
    inv->dl_offset = al_get32(buf + 13);
    inv->dl_result = buf[17];
    inv->dl_err = buf[18];
    size_t r = buf[19];
    if ((inv->flags & ~(AL_INV_AFTER_INSTALL | AL_INV_SLEEPY | AL_INV_STREAMS | AL_INV_WINDOW |
                       AL_INV_SLOTS)) ||
        inv->dl_result > AL_RESULT_ROLLBACK || (inv->dl_err && !inv->dl_result) || inv->boot_state > AL_BOOT_REVERTED ||
        inv->module_count > AL_PROTO_MAX_MODULES || r > AL_REASON_MAX - 1 ||
        len < AL_PROTO_INVENTORY_FIXED + r)
        return AL_ERR_PROTOCOL;
    for (size_t i = 0; i < r; i++)
        if (buf[AL_PROTO_INVENTORY_FIXED + i] == 0)
            return AL_ERR_PROTOCOL;
    memcpy(inv->reason, buf + AL_PROTO_INVENTORY_FIXED, r);
    size_t at = AL_PROTO_INVENTORY_FIXED + r;
    for (uint8_t i = 0; i < inv->module_count; i++) {
        struct al_module_status *s = &inv->modules[i];
        const uint8_t *m = buf + at;
        if (len - at < AL_PROTO_MODULE_FIXED || m[3] > len - at - AL_PROTO_MODULE_FIXED)
            return AL_ERR_PROTOCOL;
        size_t v = m[3];
        if (m[0] < AL_FN_BOOTLOADER || m[0] > AL_FN_MAX || m[1] > AL_INDEX_MAX || (m[2] & ~3u) ||
            al_version_parse((const char *)m + 4, v, &s->version) != AL_OK)
            return AL_ERR_PROTOCOL;
        s->function = m[0];
        s->index = m[1];
        s->present = m[2] & 1u;
        s->on_trial = (m[2] & 2u) != 0;
        memcpy(s->payload_sha256, m + 4 + v, AL_SHA256_SIZE);
        at += AL_PROTO_MODULE_FIXED + v;
    }
    return at == len ? AL_OK : AL_ERR_PROTOCOL;
}

al_err al_plan_encode(const struct al_plan *plan, uint8_t *buf, size_t cap, size_t *len)
{
    if (plan->step_count > AL_PROTO_MAX_STEPS || plan->status > AL_PLAN_WAIT)
        return AL_ERR_INVALID_ARG;
    size_t need = AL_PROTO_PLAN_FIXED + (size_t)plan->step_count * AL_PROTO_STEP_SIZE;
    if (cap < need)
        return AL_ERR_BUFFER_TOO_SMALL;
    memset(buf, 0, need);
    buf[0] = AL_PROTO_VERSION;
    buf[1] = plan->status;
    al_put16(buf + 2, plan->poll_s);
    al_put32(buf + 4, plan->plan_id);
    buf[8] = plan->step_count;
    uint8_t *s = buf + AL_PROTO_PLAN_FIXED;
    for (uint8_t i = 0; i < plan->step_count; i++, s += AL_PROTO_STEP_SIZE) {
        const struct al_plan_step *st = &plan->steps[i];
        s[0] = st->function;
        s[1] = st->index;
        s[2] = st->encoding;
        al_put32(s + 4, st->transfer_size);
        memcpy(s + 8, st->transfer_sha256, AL_SHA256_SIZE);
        memcpy(s + 40, st->image_sha256, AL_SHA256_SIZE);
    }
    *len = need;
    return AL_OK;
}

al_err al_plan_decode(const uint8_t *buf, size_t len, struct al_plan *plan)
{
    if (len < AL_PROTO_PLAN_FIXED || buf[0] != AL_PROTO_VERSION)
        return AL_ERR_PROTOCOL;
    memset(plan, 0, sizeof *plan);
    plan->status = buf[1];
    plan->poll_s = al_get16(buf + 2);
    plan->plan_id = al_get32(buf + 4);
    plan->step_count = buf[8];
    if (plan->status > AL_PLAN_WAIT || plan->step_count > AL_PROTO_MAX_STEPS ||
        (plan->status == AL_PLAN_UPDATE) != (plan->step_count > 0) ||
        len != AL_PROTO_PLAN_FIXED + (size_t)plan->step_count * AL_PROTO_STEP_SIZE)
        return AL_ERR_PROTOCOL;
    const uint8_t *s = buf + AL_PROTO_PLAN_FIXED;
    for (uint8_t i = 0; i < plan->step_count; i++, s += AL_PROTO_STEP_SIZE) {
        struct al_plan_step *st = &plan->steps[i];
        if (s[0] < AL_FN_BOOTLOADER || s[0] > AL_FN_MAX || s[1] > AL_INDEX_MAX ||
            s[2] > AL_ENC_DELTA_SLOTS || s[3])
            return AL_ERR_PROTOCOL;
        st->function = s[0];
        st->index = s[1];
        st->encoding = s[2];
        st->transfer_size = al_get32(s + 4);
        if (st->transfer_size == 0)
            return AL_ERR_PROTOCOL;
        memcpy(st->transfer_sha256, s + 8, AL_SHA256_SIZE);
        memcpy(st->image_sha256, s + 40, AL_SHA256_SIZE);
    }
    return AL_OK;
}

al_err al_status_encode(const struct al_status *st, uint8_t *buf, size_t cap, size_t *len)
{
    if (cap < AL_PROTO_STATUS_SIZE)
        return AL_ERR_BUFFER_TOO_SMALL;
    buf[0] = AL_PROTO_VERSION;
    buf[1] = st->state;
    buf[2] = st->result;
    buf[3] = st->err;
    al_put32(buf + 4, st->plan_id);
    buf[8] = st->step;
    al_put32(buf + 9, st->offset);
    *len = AL_PROTO_STATUS_SIZE;
    return AL_OK;
}

al_err al_status_decode(const uint8_t *buf, size_t len, struct al_status *st)
{
    if (len != AL_PROTO_STATUS_SIZE || buf[0] != AL_PROTO_VERSION || buf[1] > AL_STATE_FAILED)
        return AL_ERR_PROTOCOL;
    st->state = buf[1];
    st->result = buf[2];
    st->err = buf[3];
    st->plan_id = al_get32(buf + 4);
    st->step = buf[8];
    st->offset = al_get32(buf + 9);
    return AL_OK;
}

al_err al_inventory_collect(struct al_device *dev, uint8_t flags, uint16_t next_checkin_s,
                            struct al_inventory *inv)
{
    size_t n = 0;
    memset(inv, 0, sizeof *inv);
    al_err err = al_modules(dev, inv->modules, AL_PROTO_MAX_MODULES, &n);
    if (err != AL_OK)
        return err;
    inv->module_count = (uint8_t)n;
    inv->flags = flags;
    inv->next_checkin_s = next_checkin_s;
    inv->boot_state = (uint8_t)al_boot_state(dev);
    inv->last_result = dev->state.last_result;
    inv->last_err = dev->state.last_err;
    inv->dl_plan_id = dev->state.dl.plan_id;
    inv->dl_step = dev->state.dl.step;
    inv->dl_offset = dev->state.dl.offset;
    inv->dl_result = dev->state.dl.result;
    inv->dl_err = dev->state.dl.err;
    memcpy(inv->reason, dev->state.last_reason, AL_REASON_MAX);
    inv->reason[AL_REASON_MAX - 1] = '\0';
    return AL_OK;
}

uint8_t al_plan_first_step(const struct al_plan *plan, const struct al_inventory *inv)
{
    for (uint8_t i = 0; i < plan->step_count; i++) {
        const struct al_plan_step *s = &plan->steps[i];
        bool runs = false;
        for (uint8_t k = 0; k < inv->module_count && !runs; k++) {
            const struct al_module_status *m = &inv->modules[k];
            runs = m->present && m->function == s->function &&
                   (s->function == AL_FN_BOOTLOADER || m->index == s->index) &&
                   memcmp(m->payload_sha256, s->image_sha256, AL_SHA256_SIZE) == 0;
        }
        if (!runs)
            return i;
    }
    return plan->step_count;
}

bool al_plan_window_with(const struct al_plan *plan, const struct al_inventory *inv, uint8_t *step)
{
    if (!(inv->flags & AL_INV_WINDOW) || plan->status != AL_PLAN_UPDATE ||
        inv->boot_state == AL_BOOT_TRIAL)
        return false;
    *step = al_plan_first_step(plan, inv);
    if (*step >= plan->step_count)
        return false;
    return !(inv->dl_plan_id == plan->plan_id && inv->dl_step == *step &&
             (inv->dl_offset || inv->dl_result));
}
