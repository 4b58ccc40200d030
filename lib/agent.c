/*
 * agent.c - the update agent (see airlift/agent.h and docs/protocol.md).
 */
#include <string.h>

#include "airlift/agent.h"

_Static_assert(AL_AGENT_CHUNK >= AL_PROTO_PLAN_MAX, "the chunk buffer also receives plans");

void al_agent_init(struct al_agent *a, struct al_device *dev, const struct al_transport *t)
{
    memset(a, 0, sizeof *a);
    a->dev = dev;
    a->transport = t;
    a->flags = AL_INV_SLOTS; /* the agent reads encoding 3's old image across slots */
}

uint32_t al_agent_removed_backoff_s(unsigned n)
{
    uint32_t s = AL_AGENT_REMOVED_FIRST_S;
    for (unsigned i = 1; i < n && s < AL_AGENT_REMOVED_MAX_S; i++)
        s *= 2u;
    return s < AL_AGENT_REMOVED_MAX_S ? s : AL_AGENT_REMOVED_MAX_S;
}

/* Report the inventory; the answer is the plan. */
static al_err send_inventory(struct al_agent *a)
{
    size_t len = 0, resp_len = 0;
    uint8_t code = 0;
    al_err err;
    for (;;) {
        err = al_inventory_collect(a->dev, a->flags | AL_INV_STREAMS, a->next_checkin_s, &a->inv);
        if (err == AL_OK)
            err = al_inventory_encode(&a->inv, a->msg, sizeof a->msg, &len);
        if (err == AL_OK)
            err = a->transport->exchange(a->transport->ctx, AL_METHOD_POST, "i", a->msg, len,
                                         a->chunk, sizeof a->chunk, &resp_len, &code);
        if (err != AL_OK)
            return err;
        if (code != AL_COAP_BAD_REQUEST || !(a->flags & (AL_INV_WINDOW | AL_INV_SLOTS)))
            break;
        /* A server before issue 16 refuses the flags it does not know: ask without them. */
        a->flags &= (uint8_t)~(AL_INV_WINDOW | AL_INV_SLOTS);
    }
    if (code == AL_COAP_FORBIDDEN)
        return AL_ERR_REMOVED; /* the caller backs off: al_agent_removed_backoff_s() */
    if (code != AL_COAP_CHANGED && code != AL_COAP_CONTENT)
        return AL_ERR_PROTOCOL;
    err = al_plan_decode(a->chunk, resp_len, &a->plan);
    if (err == AL_OK)
        a->flags &= (uint8_t)~AL_INV_AFTER_INSTALL; /* the server has heard it */
    return err;
}

/* Best effort: the inventory is the truth, a lost status report only costs detail. */
static void send_status(struct al_agent *a, uint8_t state, uint8_t result, al_err detail,
                        uint8_t step, uint32_t offset)
{
    struct al_status st = {state, result, (uint8_t)detail, a->plan.plan_id, step, offset};
    uint8_t buf[AL_PROTO_STATUS_SIZE];
    size_t len, resp_len;
    uint8_t code;
    if (al_status_encode(&st, buf, sizeof buf, &len) == AL_OK)
        (void)a->transport->exchange(a->transport->ctx, AL_METHOD_POST, "s", buf, len, NULL, 0,
                                     &resp_len, &code);
}

/* LwM2M-style result for a refusal of the staged image. */
static uint8_t result_of(al_err err)
{
    switch (err) {
    case AL_ERR_TOO_LARGE: return AL_RESULT_NO_SPACE;
    case AL_ERR_WRONG_PLATFORM:
    case AL_ERR_FORMAT_VERSION:
    case AL_ERR_NO_SLOT:
    case AL_ERR_LINK_ADDRESS: return AL_RESULT_UNSUPPORTED;
    case AL_ERR_DEPENDENCY: return AL_RESULT_DEPENDENCY;
    case AL_ERR_ROLLBACK: return AL_RESULT_ROLLBACK;
    case AL_ERR_TRANSPORT:
    case AL_ERR_TIMEOUT: return AL_RESULT_CONNECTION_LOST;
    default: return AL_RESULT_INTEGRITY_FAILURE;
    }
}

/* "<plan>/<step>" without stdio. */
static void transfer_name(char *out, uint32_t plan_id, uint8_t step)
{
    char digits[10];
    size_t n = 0, d = 0;
    do {
        digits[d++] = (char)('0' + plan_id % 10u);
        plan_id /= 10u;
    } while (plan_id);
    while (d)
        out[n++] = digits[--d];
    out[n++] = '/';
    if (step >= 100)
        out[n++] = (char)('0' + step / 100);
    if (step >= 10)
        out[n++] = (char)('0' + step / 10 % 10);
    out[n++] = (char)('0' + step % 10);
    out[n] = '\0';
}

/* The download record of step i of the current plan. */
static struct al_download record_of(const struct al_agent *a, uint8_t i)
{
    struct al_download d;
    memset(&d, 0, sizeof d);
    d.plan_id = a->plan.plan_id;
    d.step = i;
    memcpy(d.sha256, a->plan.steps[i].transfer_sha256, AL_SHA256_SIZE);
    return d;
}

/*
 * A step failed on the device: say so, and keep the failure in the download record, so the
 * next inventory tells the server even if the report is lost (it then sends the full image
 * instead of a patch, or gives up). The device stays on its current firmware.
 */
static al_err step_failed(struct al_agent *a, uint8_t step, al_err why, struct al_session_result *out)
{
    struct al_download d = record_of(a, step);
    out->failed_result = result_of(why);
    d.result = out->failed_result;
    d.err = (uint8_t)why;
    send_status(a, AL_STATE_FAILED, out->failed_result, why, step, 0);
    return al_save_download(a->dev, &d);
}

/* Is the journal's download record about this very transfer? */
static bool record_matches(const struct al_agent *a, uint8_t i)
{
    const struct al_download *d = &a->dev->state.dl;
    return d->plan_id == a->plan.plan_id && d->step == i &&
           memcmp(d->sha256, a->plan.steps[i].transfer_sha256, AL_SHA256_SIZE) == 0;
}

/* Staging holds a complete image file: verify it, check it is the planned one, install. */
static al_err install_staged(struct al_agent *a, uint8_t i, uint32_t offset,
                             struct al_session_result *out)
{
    struct al_image_header h;
    al_err err = al_stage_verify(a->dev, &h);
    if (err == AL_OK && memcmp(h.payload_sha256, a->plan.steps[i].image_sha256, AL_SHA256_SIZE) != 0)
        err = AL_ERR_HASH_MISMATCH; /* a valid image, but not the one the plan names */
    if (err == AL_OK)
        err = al_install_request(a->dev);
    if (err == AL_ERR_POWER_LOSS)
        return err;
    if (err != AL_OK)
        return step_failed(a, i, err, out);
    send_status(a, AL_STATE_INSTALLING, AL_RESULT_NONE, AL_OK, i, offset);
    err = al_save_download(a->dev, NULL);
    out->reset_needed = err == AL_OK;
    return err;
}

static bool link_error(al_err err)
{
    return err == AL_ERR_TRANSPORT || err == AL_ERR_TIMEOUT || err == AL_ERR_PROTOCOL;
}

/* Download a full image into staging, resuming where the journal says. */
static al_err run_full(struct al_agent *a, uint8_t i, const char *name, struct al_session_result *out)
{
    const struct al_plan_step *s = &a->plan.steps[i];
    struct al_device *dev = a->dev;
    struct al_download d = record_of(a, i);
    al_err err;
    if (record_matches(a, i) && dev->state.dl.offset <= s->transfer_size) {
        d.offset = dev->state.dl.offset; /* resume: staging holds these bytes */
    } else {
        err = al_stage_begin(dev, s->transfer_size);
        if (err == AL_ERR_TOO_LARGE)
            return step_failed(a, i, err, out);
        if (err == AL_OK)
            err = al_save_download(dev, &d);
        if (err != AL_OK)
            return err;
    }
    /* No "downloading" or "verifying" report: the transfer requests tell the server both. */
    for (unsigned chunks = 1; d.offset < s->transfer_size; chunks++) {
        size_t got = 0;
        err = a->transport->fetch(a->transport->ctx, name, d.offset, s->transfer_size,
                                  s->transfer_size, a->chunk, sizeof a->chunk, &got);
        if (err == AL_OK && (got == 0 || got > sizeof a->chunk || got > s->transfer_size - d.offset))
            err = AL_ERR_PROTOCOL;
        if (err == AL_OK)
            err = al_stage_write(dev, d.offset, a->chunk, got);
        if (err != AL_OK) {
            if (link_error(err))
                (void)al_save_download(dev, &d);
            return err; /* the next session resumes at the saved offset */
        }
        d.offset += (uint32_t)got;
        out->bytes_fetched += (uint32_t)got;
        if (chunks % AL_AGENT_SAVE_EVERY == 0 || d.offset == s->transfer_size) {
            err = al_save_download(dev, &d);
            if (err != AL_OK)
                return err;
        }
    }
    return install_staged(a, i, d.offset, out);
}

/* The decoder's I/O: the old image is the running payloads of the base slots one after the
 * other (docs/protocol.md, "Encodings"), the output staging. */
static al_err stream_read_old(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    struct al_agent *a = ctx;
    for (uint8_t k = 0; len && k < a->base_count; k++) {
        if (off >= a->base_size[k]) {
            off -= a->base_size[k];
            continue;
        }
        size_t n = len < a->base_size[k] - off ? len : a->base_size[k] - off;
        al_err err = al_running_read(a->dev, a->base_function, a->base_index[k], off, buf, n, NULL);
        if (err != AL_OK)
            return err;
        buf = (uint8_t *)buf + n;
        len -= n;
        off = 0;
    }
    return len ? AL_ERR_PATCH_BASE : AL_OK;
}

/* The slots a patch of step s reads as its old image, and their total size in *size: the
 * step's own, then for encoding 3 every other module of its function the inventory lists. */
static al_err find_bases(struct al_agent *a, const struct al_plan_step *s, uint32_t *size)
{
    a->base_function = s->function;
    a->base_index[0] = s->index;
    a->base_count = 1;
    if (al_running_read(a->dev, s->function, s->index, 0, NULL, 0, &a->base_size[0]) != AL_OK)
        return AL_ERR_PATCH_BASE;
    *size = a->base_size[0];
    for (uint8_t i = 0; s->encoding == AL_ENC_DELTA_SLOTS && i < a->inv.module_count; i++) {
        const struct al_module_status *m = &a->inv.modules[i];
        uint8_t k = a->base_count;
        if (!m->present || m->function != s->function || m->index == s->index)
            continue;
        if (k == AL_PROTO_SLOTS_MAX ||
            al_running_read(a->dev, m->function, m->index, 0, NULL, 0, &a->base_size[k]) != AL_OK ||
            a->base_size[k] > AL_DELTA_MAX_SIZE - *size)
            return AL_ERR_PATCH_BASE;
        a->base_index[k] = m->index;
        *size += a->base_size[k];
        a->base_count++;
    }
    return AL_OK;
}

static al_err stream_read_new(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    return al_stage_read(((struct al_agent *)ctx)->dev, off, buf, len);
}

static al_err stream_write_new(void *ctx, uint32_t off, const uint8_t *buf, size_t len)
{
    struct al_agent *a = ctx;
    if (!a->stage_begun) {
        /* The first output of a fresh stream: now its size is known, erase what it needs. */
        al_err err = off == 0 ? al_stage_begin(a->dev, a->stream.hdr.new_size) : AL_ERR_STATE;
        if (err != AL_OK)
            return err;
        a->stage_begun = true;
    }
    return al_stage_write(a->dev, off, buf, len);
}

/* Persist where a stream can resume: its checkpoint and how far staging is written. */
static al_err save_stream(struct al_agent *a, uint8_t i)
{
    struct al_download d = record_of(a, i);
    struct al_delta_checkpoint cp;
    al_delta_checkpoint(&a->stream, &cp);
    d.offset = cp.patch_offset;
    d.out_offset = cp.output_offset;
    d.written = al_delta_written(&a->stream);
    return al_save_download(a->dev, &d);
}

/* Decode a compressed image or a patch into staging, resuming at the journal's checkpoint. */
/* How much of a stream's prologue a resume asks for at once: a header and a map of 128
 * segments (the most a map had before flag bit 3's room, docs/delta-format.md). */
#define PROLOGUE_PIECE (AL_DELTA_HEADER_SIZE + 5u + 128u * 10u + 4u)

static al_err run_stream(struct al_agent *a, uint8_t i, const char *name, struct al_session_result *out)
{
    const struct al_plan_step *s = &a->plan.steps[i];
    const struct al_download *rec = &a->dev->state.dl;
    struct al_delta_io io = {a, stream_read_old, stream_read_new, stream_write_new, 0};
    uint32_t resume_at = 0;
    al_err err = AL_OK;
    a->base_count = 0;
    if (s->encoding != AL_ENC_COMPRESSED && find_bases(a, s, &io.old_size) != AL_OK)
        return step_failed(a, i, AL_ERR_PATCH_BASE, out); /* nothing to patch */
    if (record_matches(a, i) && rec->written) {
        struct al_delta_checkpoint cp = {rec->offset, rec->out_offset};
        err = al_delta_resume(&a->stream, &io, &cp, rec->written);
        resume_at = cp.patch_offset;
        a->stage_begun = true; /* staging was erased when this stream began */
    }
    if (!resume_at || err != AL_OK) {
        struct al_download d = record_of(a, i);
        a->stage_begun = false;
        resume_at = 0;
        err = al_delta_init(&a->stream, &io);
        if (err == AL_OK)
            err = al_save_download(a->dev, &d); /* the stream starts; nothing written yet */
        if (err != AL_OK)
            return err;
    }
    for (unsigned pieces = 1; !al_delta_done(&a->stream); pieces++) {
        uint32_t at = al_delta_want(&a->stream), until = s->transfer_size;
        size_t got = 0;
        if (at >= s->transfer_size)
            break; /* the stream ended early: al_delta_finish says so */
        /* The prologue again (it is never longer), then the jump; asked for a map of 128
         * segments at a time (most maps are shorter), not AL_DELTA_PROLOGUE_MAX at once. */
        if (at < resume_at)
            until = resume_at - at < PROLOGUE_PIECE ? resume_at : at + PROLOGUE_PIECE;
        err = a->transport->fetch(a->transport->ctx, name, at, s->transfer_size, until, a->chunk,
                                  sizeof a->chunk, &got);
        if (err == AL_OK && (got == 0 || got > sizeof a->chunk || got > s->transfer_size - at))
            err = AL_ERR_PROTOCOL;
        if (err != AL_OK) {
            if (link_error(err) && a->stage_begun)
                (void)save_stream(a, i);
            return err; /* the next session resumes at the checkpoint */
        }
        out->bytes_fetched += (uint32_t)got;
        err = al_delta_feed(&a->stream, a->chunk, got);
        if (err != AL_OK)
            break;
        if (pieces % AL_AGENT_SAVE_EVERY == 0 && a->stage_begun) {
            err = save_stream(a, i);
            if (err != AL_OK)
                return err;
        }
    }
    if (err == AL_OK)
        err = al_delta_finish(&a->stream);
    if (err == AL_ERR_POWER_LOSS || err == AL_ERR_FLASH || err == AL_ERR_JOURNAL)
        return err; /* the device, not the stream: the next session resumes */
    if (err != AL_OK)
        return step_failed(a, i, err, out);
    return install_staged(a, i, s->transfer_size, out);
}

/* Run step i: download it into staging (resuming where the journal says), verify, install. */
static al_err run_step(struct al_agent *a, uint8_t i, struct al_session_result *out)
{
    const struct al_plan_step *s = &a->plan.steps[i];
    char name[16];
    if (record_matches(a, i) && a->dev->state.dl.result) {
        /* This very transfer failed here before: say so again rather than fetch it again. */
        out->failed_result = a->dev->state.dl.result;
        send_status(a, AL_STATE_FAILED, a->dev->state.dl.result, (al_err)a->dev->state.dl.err, i, 0);
        return AL_OK;
    }
    transfer_name(name, a->plan.plan_id, i);
    if (s->encoding == AL_ENC_FULL)
        return run_full(a, i, name, out);
    return run_stream(a, i, name, out);
}

al_err al_agent_session(struct al_agent *a, struct al_session_result *out)
{
    memset(out, 0, sizeof *out);
    al_err err;
    if (al_boot_state(a->dev) == AL_BOOT_TRIAL && !a->hold_confirm && a->transport->connect &&
        a->transport->connect(a->transport->ctx) == AL_OK) {
        /* The server authenticated itself: the new firmware reached it. Confirm before the
         * first inventory, so that one already says so. */
        err = al_confirm(a->dev);
        if (err != AL_OK)
            return err;
        out->confirmed = true;
    }
    err = send_inventory(a);
    if (err != AL_OK)
        return err;
    if (al_boot_state(a->dev) == AL_BOOT_TRIAL && !a->hold_confirm) {
        /* The new firmware reached the server: that is what it waited for. */
        err = al_confirm(a->dev);
        if (err == AL_OK)
            err = send_inventory(a);
        if (err != AL_OK)
            return err;
        out->confirmed = true;
    }
    out->plan_status = a->plan.status;
    if (al_boot_state(a->dev) == AL_BOOT_TRIAL)
        return AL_OK; /* nothing new before the trial image is confirmed or reverted */
    if (a->plan.status != AL_PLAN_UPDATE) {
        out->up_to_date = a->plan.status == AL_PLAN_UP_TO_DATE;
        return AL_OK;
    }
    uint8_t first = al_plan_first_step(&a->plan, &a->inv);
    if (first < a->plan.step_count)
        return run_step(a, first, out);
    out->up_to_date = true; /* every step already runs: nothing is sent again */
    return AL_OK;
}
