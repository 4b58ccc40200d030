/*
 * install.c - the agent-facing half of the install engine: staging a download, requesting
 * an install, confirming a trial, reporting what is installed, checking dependencies.
 * The bootloader-facing half (al_boot) is in boot.c.
 */
#include <string.h>

#include "install_priv.h"

al_err al_device_open(struct al_device *dev, const struct al_device_config *cfg)
{
    if (dev == NULL || cfg == NULL || cfg->layout == NULL || cfg->crypto == NULL ||
        cfg->keys == NULL || cfg->scratch == NULL || cfg->scratch_len < 256)
        return AL_ERR_INVALID_ARG;
    if (cfg->crypto->sha256_ctx_size > AL_SHA256_CTX_MAX)
        return AL_ERR_INVALID_ARG;
    memset(dev, 0, sizeof *dev);
    dev->cfg = *cfg;
    if (dev->cfg.max_trial_boots == 0)
        dev->cfg.max_trial_boots = AL_DEFAULT_MAX_TRIAL_BOOTS;
    al_err err = al_layout_check(cfg->layout);
    if (err == AL_OK && cfg->layout->count > AL_MAX_MODULES)
        err = AL_ERR_BAD_LAYOUT;
    if (err == AL_OK)
        err = al_journal_load(dev);
    if (err == AL_OK)
        dev->open = true;
    return err;
}

const struct al_region *al_bootloader_copy(const struct al_device *dev, uint8_t copy)
{
    return al_layout_find(dev->cfg.layout, copy ? AL_REGION_BOOTLOADER_B : AL_REGION_BOOTLOADER_A);
}

size_t al_counter_index(const struct al_device *dev, const struct al_region *r)
{
    /* Both bootloader copies share one floor: the one of copy A. */
    if (r->role == AL_REGION_BOOTLOADER_B)
        r = al_bootloader_copy(dev, 0);
    return al_layout_region_index(dev->cfg.layout, r);
}

/* Copy a reason string into the journal state: a, then b, truncated, NUL-terminated. */
void al_set_reason(struct al_device *dev, const char *a, const char *b)
{
    char *out = dev->state.last_reason;
    size_t n = 0;
    memset(out, 0, AL_REASON_MAX);
    for (const char *s = a; s && *s && n < AL_REASON_MAX - 1; s++)
        out[n++] = *s;
    for (const char *s = b; s && *s && n < AL_REASON_MAX - 1; s++)
        out[n++] = *s;
}

/* --- staging --- */

al_err al_stage_begin(struct al_device *dev, uint32_t total_size)
{
    const struct al_region *staging;
    if (!dev->open)
        return AL_ERR_STATE;
    if (dev->state.txn_kind != AL_TXN_NONE)
        return AL_ERR_BUSY; /* staging is an install's source until it is confirmed */
    staging = al_layout_find(dev->cfg.layout, AL_REGION_STAGING);
    if (total_size == 0 || total_size > staging->size)
        return AL_ERR_TOO_LARGE;
    dev->stage_size = total_size;
    return al_region_erase(staging, total_size);
}

al_err al_stage_write(struct al_device *dev, uint32_t offset, const void *data, size_t len)
{
    const struct al_region *staging;
    if (!dev->open || dev->state.txn_kind != AL_TXN_NONE)
        return AL_ERR_STATE;
    staging = al_layout_find(dev->cfg.layout, AL_REGION_STAGING);
    if (offset > staging->size || len > staging->size - offset)
        return AL_ERR_OUT_OF_RANGE;
    /* Only the last piece of a download may end off a write unit. */
    if (offset % staging->flash->write_size)
        return AL_ERR_ALIGNMENT;
    return al_region_program(staging, offset, data, len);
}

/* Full check of the staged image; *target is the region it will be installed into. */
static al_err stage_verify(struct al_device *dev, struct al_image_header *out,
                           const struct al_region **target)
{
    al_err err;
    if (!dev->open)
        return AL_ERR_STATE;
    dev->refusal[0] = '\0';
    err = al_staging_verify(dev, out, target);
    if (err != AL_OK)
        return err;
    if (out->security_counter < dev->state.counters[al_counter_index(dev, *target)])
        return AL_ERR_ROLLBACK;
    return al_check_dependencies(dev, out, dev->refusal, sizeof dev->refusal);
}

al_err al_stage_verify(struct al_device *dev, struct al_image_header *out)
{
    const struct al_region *target;
    return stage_verify(dev, out, &target);
}

al_err al_install_request(struct al_device *dev)
{
    struct al_image_header h;
    const struct al_region *target;
    al_err err;
    if (!dev->open)
        return AL_ERR_STATE;
    if (dev->state.txn_kind != AL_TXN_NONE)
        return AL_ERR_BUSY;
    err = stage_verify(dev, &h, &target);
    if (err != AL_OK)
        return err;
    dev->state.txn_kind = h.function == AL_FN_BOOTLOADER ? AL_TXN_BOOTLOADER : AL_TXN_INSTALL;
    dev->state.txn_phase = AL_PHASE_REQUESTED;
    dev->state.txn_region = (uint8_t)al_layout_region_index(dev->cfg.layout, target);
    dev->state.txn_had_backup = 0;
    dev->state.trial_boots = 0;
    memcpy(dev->state.staged_sha256, h.payload_sha256, AL_SHA256_SIZE);
    return al_journal_commit(dev);
}

al_err al_confirm(struct al_device *dev)
{
    struct al_image_header h;
    const struct al_region *r;
    al_err err;
    if (!dev->open)
        return AL_ERR_STATE;
    if (dev->state.txn_phase != AL_PHASE_TRIAL)
        return AL_OK; /* nothing on trial: confirming is a no-op */
    r = &dev->cfg.layout->regions[dev->state.txn_region];
    err = al_slot_verify(dev, r, r, &h);
    if (err != AL_OK)
        return err;
    size_t ci = al_counter_index(dev, r);
    if (h.security_counter > dev->state.counters[ci])
        dev->state.counters[ci] = h.security_counter;
    dev->state.txn_kind = AL_TXN_NONE;
    dev->state.txn_phase = AL_PHASE_IDLE;
    dev->state.trial_boots = 0;
    dev->state.last_result = AL_RESULT_SUCCESS;
    dev->state.last_result_region = dev->state.txn_region;
    dev->state.last_err = AL_OK;
    dev->state.last_result_version = h.version;
    al_set_reason(dev, "confirmed", NULL);
    return al_journal_commit(dev);
}

al_err al_save_download(struct al_device *dev, const struct al_download *dl)
{
    if (!dev->open)
        return AL_ERR_STATE;
    if (dl)
        dev->state.dl = *dl;
    else
        memset(&dev->state.dl, 0, sizeof dev->state.dl);
    return al_journal_commit(dev);
}

al_err al_stage_read(struct al_device *dev, uint32_t off, void *buf, size_t len)
{
    const struct al_region *staging;
    if (!dev->open)
        return AL_ERR_STATE;
    staging = al_layout_find(dev->cfg.layout, AL_REGION_STAGING);
    if (off > staging->size || len > staging->size - off)
        return AL_ERR_OUT_OF_RANGE;
    return al_region_read(staging, off, buf, len);
}

/* --- inventory and dependencies --- */

/* The region that currently holds a module of the given kind (bootloader: active copy). */
static const struct al_region *installed_region(struct al_device *dev, const struct al_region *r)
{
    if (r->role == AL_REGION_BOOTLOADER_A || r->role == AL_REGION_BOOTLOADER_B)
        return al_bootloader_copy(dev, dev->state.bootloader_active);
    return r;
}

static bool is_module_region(const struct al_region *r)
{
    return r->role == AL_REGION_SLOT || r->role == AL_REGION_BOOTLOADER_A;
}

al_err al_modules(struct al_device *dev, struct al_module_status *out, size_t cap, size_t *count)
{
    const struct al_layout *l = dev->cfg.layout;
    size_t n = 0;
    if (!dev->open)
        return AL_ERR_STATE;
    for (size_t i = 0; i < l->count; i++) {
        const struct al_region *r = &l->regions[i];
        struct al_image_header h;
        if (!is_module_region(r))
            continue;
        if (n >= cap)
            return AL_ERR_BUFFER_TOO_SMALL;
        const struct al_region *at = installed_region(dev, r);
        struct al_module_status *m = &out[n++];
        memset(m, 0, sizeof *m);
        m->function = r->function;
        m->index = r->role == AL_REGION_SLOT ? r->index : 0;
        if (al_slot_verify(dev, at, at, &h) == AL_OK) {
            m->present = true;
            m->version = h.version;
            memcpy(m->payload_sha256, h.payload_sha256, AL_SHA256_SIZE);
            m->security_counter = h.security_counter;
            m->size = h.payload_size;
            m->index = h.index;
        }
        m->on_trial = dev->state.txn_phase == AL_PHASE_TRIAL &&
                      &l->regions[dev->state.txn_region] == at;
    }
    *count = n;
    return AL_OK;
}

static al_err read_slot_header(const struct al_region *r, struct al_image_header *h);

al_err al_running_read(struct al_device *dev, uint8_t function, uint8_t index, uint32_t off,
                       void *buf, size_t len, uint32_t *size)
{
    const struct al_region *r;
    struct al_image_header h;
    if (!dev->open)
        return AL_ERR_STATE;
    r = al_layout_slot(dev->cfg.layout, function, index);
    if (!r)
        return AL_ERR_NO_SLOT;
    r = installed_region(dev, r);
    /* The header as the inventory verified it; only its size is needed here. */
    if (read_slot_header(r, &h) != AL_OK || h.payload_size > al_slot_payload_max(r))
        return AL_ERR_NO_IMAGE;
    if (size)
        *size = h.payload_size;
    if (off > h.payload_size || len > h.payload_size - off)
        return AL_ERR_OUT_OF_RANGE;
    return len ? al_region_read(r, off, buf, len) : AL_OK;
}

enum al_boot_state al_boot_state(const struct al_device *dev)
{
    if (dev->state.txn_phase == AL_PHASE_TRIAL)
        return AL_BOOT_TRIAL;
    if (dev->state.last_result == AL_RESULT_REVERTED)
        return AL_BOOT_REVERTED;
    return AL_BOOT_CONFIRMED;
}

/* Bounded string building for reasons, without stdio. */
static size_t append(char *buf, size_t cap, size_t n, const char *s)
{
    while (*s && n + 1 < cap)
        buf[n++] = *s++;
    buf[n] = '\0';
    return n;
}

/* Append a module's name, e.g. "system 3" (the bootloader has no index). */
static size_t append_module(char *buf, size_t cap, size_t n, uint8_t function, uint8_t index)
{
    char digits[4] = {' ', 0, 0, 0};
    n = append(buf, cap, n, al_function_name(function));
    if (function == AL_FN_BOOTLOADER)
        return n;
    if (index >= 10) {
        digits[1] = '1';
        digits[2] = (char)('0' + index % 10);
    } else {
        digits[1] = (char)('0' + index);
    }
    return append(buf, cap, n, digits);
}

/* why = "<module> needs <module> >= <version>", e.g. "system 1 needs system 3 >= 0.7.0" */
static void describe_dep(char *why, size_t why_len, uint8_t function, uint8_t index,
                         const struct al_dependency *d)
{
    size_t n = append_module(why, why_len, 0, function, index);
    n = append(why, why_len, n, " needs ");
    n = append_module(why, why_len, n, d->function, d->index);
    n = append(why, why_len, n, " >= ");
    if (why_len > n)
        al_version_format(&d->min_version, why + n, why_len - n);
}

/* Header of the image in a slot-format region, parsed but not authenticated. */
static al_err read_slot_header(const struct al_region *r, struct al_image_header *h)
{
    uint8_t hdr[AL_IMAGE_MAX_HEADER];
    al_err err = al_region_read(r, r->size - AL_SLOT_HEADER_AREA, hdr, sizeof hdr);
    return err != AL_OK ? err : al_image_parse_header(hdr, sizeof hdr, h);
}

/*
 * Verify every installed module once, with `candidate` (may be NULL) standing in for the
 * module of its function/index. Fills mods (AL_MAX_MODULES entries), returns the count.
 */
size_t al_collect_modules(struct al_device *dev, const struct al_image_header *candidate,
                          struct al_installed *mods)
{
    struct al_image_header h;
    size_t n = 0;
    const struct al_layout *l = dev->cfg.layout;
    for (size_t i = 0; i < l->count && n < AL_MAX_MODULES; i++) {
        const struct al_region *r = &l->regions[i];
        if (!is_module_region(r))
            continue;
        struct al_installed *m = &mods[n++];
        memset(m, 0, sizeof *m);
        m->function = r->function;
        m->index = r->role == AL_REGION_SLOT ? r->index : 0;
        m->at = installed_region(dev, r);
        if (candidate && candidate->function == m->function &&
            (m->function == AL_FN_BOOTLOADER || candidate->index == m->index)) {
            m->present = m->is_candidate = true;
            m->version = candidate->version;
        } else if (al_slot_verify(dev, m->at, m->at, &h) == AL_OK) {
            m->present = true;
            m->version = h.version;
        }
    }
    return n;
}

/*
 * Are the dependencies of every present module in mods met by the others? The candidate's
 * list comes from `candidate`; the installed ones are re-read from their (already verified)
 * headers. On failure, why says which, e.g. "application needs system 1 >= 0.7.0".
 */
al_err al_dependencies_met(const struct al_installed *mods, size_t n,
                           const struct al_image_header *candidate, char *why, size_t why_len)
{
    struct al_image_header h;
    why[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const struct al_image_header *deps_of = candidate;
        if (!mods[i].present)
            continue;
        if (!mods[i].is_candidate) {
            if (read_slot_header(mods[i].at, &h) != AL_OK)
                return AL_ERR_NO_IMAGE; /* changed under us since verification */
            deps_of = &h;
        }
        for (size_t d = 0; d < deps_of->dep_count; d++) {
            const struct al_dependency *dep = &deps_of->deps[d];
            bool met = false;
            for (size_t j = 0; j < n && !met; j++)
                met = mods[j].present && al_dependency_met(dep, mods[j].function, mods[j].index,
                                                           &mods[j].version);
            if (!met) {
                describe_dep(why, why_len, mods[i].function, mods[i].index, dep);
                return AL_ERR_DEPENDENCY;
            }
        }
    }
    return AL_OK;
}

al_err al_check_dependencies(struct al_device *dev, const struct al_image_header *candidate,
                             char *why, size_t why_len)
{
    struct al_installed mods[AL_MAX_MODULES];
    size_t n = al_collect_modules(dev, candidate, mods);
    return al_dependencies_met(mods, n, candidate, why, why_len);
}

const char *al_result_name(uint8_t result)
{
    switch (result) {
    case AL_RESULT_NONE: return "none";
    case AL_RESULT_SUCCESS: return "success";
    case AL_RESULT_NO_SPACE: return "not enough flash";
    case AL_RESULT_OUT_OF_RAM: return "out of RAM";
    case AL_RESULT_CONNECTION_LOST: return "connection lost";
    case AL_RESULT_INTEGRITY_FAILURE: return "integrity check failure";
    case AL_RESULT_UNSUPPORTED: return "unsupported package";
    case AL_RESULT_UPDATE_FAILED: return "update failed";
    case AL_RESULT_REVERTED: return "reverted";
    case AL_RESULT_CANCELLED: return "cancelled";
    case AL_RESULT_DEFERRED: return "deferred";
    case AL_RESULT_DEPENDENCY: return "dependencies unmet";
    case AL_RESULT_ROLLBACK: return "security counter too low";
    default: return "unknown";
    }
}
