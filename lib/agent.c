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
}

/* Report the inventory; the answer is the plan. */
static al_err send_inventory(struct al_agent *a)
{
    size_t len = 0, resp_len = 0;
    uint8_t code = 0;
    al_err err = al_inventory_collect(a->dev, a->flags, a->next_checkin_s, &a->inv);
    if (err == AL_OK)
        err = al_inventory_encode(&a->inv, a->msg, sizeof a->msg, &len);
    if (err == AL_OK)
        err = a->transport->exchange(a->transport->ctx, AL_METHOD_POST, "i", a->msg, len, a->chunk,
                                     sizeof a->chunk, &resp_len, &code);
    if (err != AL_OK)
        return err;
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

/* Is an image with this payload hash already running in the step's slot? */
static bool already_running(const struct al_agent *a, const struct al_plan_step *s)
{
    for (uint8_t i = 0; i < a->inv.module_count; i++) {
        const struct al_module_status *m = &a->inv.modules[i];
        if (m->present && m->function == s->function &&
            (s->function == AL_FN_BOOTLOADER || m->index == s->index) &&
            memcmp(m->payload_sha256, s->image_sha256, AL_SHA256_SIZE) == 0)
            return true;
    }
    return false;
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

/* A step failed on the device: say so, forget the download, stay on the current firmware. */
static al_err step_failed(struct al_agent *a, uint8_t step, al_err why, struct al_session_result *out)
{
    out->failed_result = result_of(why);
    send_status(a, AL_STATE_FAILED, out->failed_result, why, step, 0);
    return al_save_download(a->dev, 0, 0, 0, NULL);
}

/* Download step i into staging, resuming where the journal says, then verify and install. */
static al_err run_step(struct al_agent *a, uint8_t i, struct al_session_result *out)
{
    const struct al_plan_step *s = &a->plan.steps[i];
    struct al_device *dev = a->dev;
    const struct al_journal_state *j = &dev->state;
    struct al_image_header h;
    char name[16];
    uint32_t offset = 0;
    al_err err;
    if (s->encoding != AL_ENC_FULL)
        return step_failed(a, i, AL_ERR_FORMAT_VERSION, out); /* not in this build */
    transfer_name(name, a->plan.plan_id, i);
    if (j->dl_plan_id == a->plan.plan_id && j->dl_step == i && j->dl_offset <= s->transfer_size &&
        memcmp(j->dl_sha256, s->transfer_sha256, AL_SHA256_SIZE) == 0) {
        offset = j->dl_offset; /* resume: staging holds these bytes */
    } else {
        err = al_stage_begin(dev, s->transfer_size);
        if (err == AL_ERR_TOO_LARGE)
            return step_failed(a, i, err, out);
        if (err == AL_OK)
            err = al_save_download(dev, a->plan.plan_id, i, 0, s->transfer_sha256);
        if (err != AL_OK)
            return err;
    }
    /* No "downloading" or "verifying" report: the transfer requests tell the server both. */
    for (unsigned chunks = 1; offset < s->transfer_size; chunks++) {
        size_t got = 0;
        err = a->transport->fetch(a->transport->ctx, name, offset, s->transfer_size, a->chunk,
                                  sizeof a->chunk, &got);
        if (err == AL_OK && (got == 0 || got > sizeof a->chunk || got > s->transfer_size - offset))
            err = AL_ERR_PROTOCOL;
        if (err == AL_OK)
            err = al_stage_write(dev, offset, a->chunk, got);
        if (err != AL_OK) {
            if (err == AL_ERR_TRANSPORT || err == AL_ERR_TIMEOUT || err == AL_ERR_PROTOCOL)
                (void)al_save_download(dev, a->plan.plan_id, i, offset, s->transfer_sha256);
            return err; /* the next session resumes at the saved offset */
        }
        offset += (uint32_t)got;
        out->bytes_fetched += (uint32_t)got;
        if (chunks % AL_AGENT_SAVE_EVERY == 0 || offset == s->transfer_size) {
            err = al_save_download(dev, a->plan.plan_id, i, offset, s->transfer_sha256);
            if (err != AL_OK)
                return err;
        }
    }
    err = al_stage_verify(dev, &h);
    if (err == AL_OK && memcmp(h.payload_sha256, s->image_sha256, AL_SHA256_SIZE) != 0)
        err = AL_ERR_HASH_MISMATCH; /* a valid image, but not the one the plan names */
    if (err == AL_OK)
        err = al_install_request(dev);
    if (err == AL_ERR_POWER_LOSS)
        return err;
    if (err != AL_OK)
        return step_failed(a, i, err, out);
    send_status(a, AL_STATE_INSTALLING, AL_RESULT_NONE, AL_OK, i, offset);
    err = al_save_download(dev, 0, 0, 0, NULL);
    out->reset_needed = err == AL_OK;
    return err;
}

al_err al_agent_session(struct al_agent *a, struct al_session_result *out)
{
    memset(out, 0, sizeof *out);
    al_err err = send_inventory(a);
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
    for (uint8_t i = 0; i < a->plan.step_count; i++)
        if (!already_running(a, &a->plan.steps[i]))
            return run_step(a, i, out);
    out->up_to_date = true; /* every step already runs: nothing is sent again */
    return AL_OK;
}
