/* fake_server.c - see fake_server.h. */
#include "fake_server.h"

#include <string.h>

#include <openssl/sha.h>

bool fake_runs(const struct al_inventory *inv, const struct test_image *img)
{
    for (uint8_t i = 0; i < inv->module_count; i++)
        if (inv->modules[i].present &&
            memcmp(inv->modules[i].payload_sha256, img->hdr.payload_sha256, 32) == 0)
            return true;
    return false;
}

int fake_inventory(struct fake_server *s, const uint8_t *req, size_t len, uint8_t *out,
                   size_t cap, size_t *out_len)
{
    if (al_inventory_decode(req, len, &s->last_inventory) != AL_OK)
        return 128;
    s->inventories++;
    struct al_plan plan = {.status = AL_PLAN_UP_TO_DATE, .poll_s = 600, .plan_id = s->plan_id};
    if (s->target && (s->force_step || !fake_runs(&s->last_inventory, s->target))) {
        struct al_plan_step *st = &plan.steps[0];
        plan.status = AL_PLAN_UPDATE;
        plan.step_count = 1;
        st->function = s->target->hdr.function;
        st->index = s->target->hdr.index;
        st->encoding = s->stream ? s->encoding : AL_ENC_FULL;
        st->transfer_size = (uint32_t)(s->stream ? s->stream_len : s->target->len);
        SHA256(s->stream ? s->stream : s->target->bytes, st->transfer_size, st->transfer_sha256);
        memcpy(st->image_sha256, s->target->hdr.payload_sha256, 32);
    }
    return al_plan_encode(&plan, out, cap, out_len) == AL_OK ? 68 : 160;
}

int fake_status(struct fake_server *s, const uint8_t *req, size_t len)
{
    if (s->status_count >= 64 || al_status_decode(req, len, &s->statuses[s->status_count]) != AL_OK)
        return 128;
    s->status_count++;
    return 68;
}

const uint8_t *fake_transfer(struct fake_server *s, uint32_t plan, uint8_t step, size_t *len)
{
    if (!s->target || plan != s->plan_id || step != 0)
        return NULL;
    uint8_t *bytes = s->stream ? s->stream : s->target->bytes;
    *len = s->stream ? s->stream_len : s->target->len;
    if (s->corrupt)
        bytes[*len / 2] ^= 1;
    return bytes;
}

void fake_restore(struct fake_server *s)
{
    if (s->corrupt && s->stream)
        s->stream[s->stream_len / 2] ^= 1;
    else if (s->corrupt)
        s->target->bytes[s->target->len / 2] ^= 1;
}
