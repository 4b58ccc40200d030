/*
 * boot.c - the power-on path: boot0's choice of bootloader copy, then the bootloader's work:
 * finish or undo the install transaction, count trial boots, revert, and decide what runs.
 *
 * Every step is idempotent and starts from what the journal says: its source (staging or
 * backup) is never modified while the step runs, so a power cut anywhere is repaired by
 * running the same step again on the next boot. State tables: docs/install-engine.md.
 */
#include <string.h>

#include "install_priv.h"

static const char *reset_name(uint8_t why)
{
    switch (why) {
    case AL_RESET_WATCHDOG: return " (last reset: watchdog)";
    case AL_RESET_FAULT: return " (last reset: crash)";
    case AL_RESET_SOFTWARE: return " (last reset: software)";
    default: return " (last reset: power)";
    }
}

static void finish_txn(struct al_device *dev, uint8_t result, al_err detail)
{
    dev->state.last_result = result;
    dev->state.last_result_region = dev->state.txn_region;
    dev->state.last_err = (uint8_t)detail;
    dev->state.txn_kind = AL_TXN_NONE;
    dev->state.txn_phase = AL_PHASE_IDLE;
    dev->state.trial_boots = 0;
}

/* Is the image in staging still the one the journal recorded? */
static al_err staging_matches(struct al_device *dev, struct al_image_header *h)
{
    al_err err = al_staging_verify(dev, h, NULL);
    if (err == AL_OK && memcmp(h->payload_sha256, dev->state.staged_sha256, AL_SHA256_SIZE) != 0)
        err = AL_ERR_HASH_MISMATCH;
    return err;
}

/* boot0: count a bootloader trial boot, flip back past the limit, pick a valid copy. */
static al_err boot0(struct al_device *dev, enum al_reset_reason why, struct al_boot_info *info)
{
    struct al_journal_state *s = &dev->state;
    struct al_image_header h;
    if (s->txn_kind == AL_TXN_BOOTLOADER && s->txn_phase == AL_PHASE_TRIAL) {
        s->trial_boots++;
        s->last_reset_reason = (uint8_t)why;
        if (s->trial_boots > dev->cfg.max_trial_boots) {
            s->bootloader_active ^= 1u;
            al_set_reason(dev, "bootloader not confirmed", reset_name(why));
            finish_txn(dev, AL_RESULT_REVERTED, AL_OK);
            info->reverted = true;
        }
        al_err err = al_journal_commit(dev);
        if (err != AL_OK)
            return err;
    }
    info->bootloader_copy = s->bootloader_active;
    const struct al_region *active = al_bootloader_copy(dev, s->bootloader_active);
    const struct al_region *other = al_bootloader_copy(dev, s->bootloader_active ^ 1u);
    if (active && other && al_slot_verify(dev, active, active, &h) != AL_OK) {
        if (al_slot_verify(dev, other, other, &h) == AL_OK)
            info->bootloader_copy = s->bootloader_active ^ 1u;
    }
    return AL_OK;
}

/* Bootloader install: write the inactive copy, then make it active on trial. */
static al_err bootloader_requested(struct al_device *dev, bool *reset)
{
    struct al_image_header h;
    const struct al_region *target = &dev->cfg.layout->regions[dev->state.txn_region];
    al_err err = staging_matches(dev, &h);
    if (err != AL_OK) {
        al_set_reason(dev, "staged bootloader invalid: ", al_strerror(err));
        finish_txn(dev, AL_RESULT_INTEGRITY_FAILURE, err);
        return al_journal_commit(dev);
    }
    err = al_staging_install(dev, &h, target);
    if (err == AL_OK)
        err = al_slot_verify(dev, target, target, &h);
    if (err == AL_ERR_POWER_LOSS)
        return err;
    if (err != AL_OK) {
        al_set_reason(dev, "bootloader write failed: ", al_strerror(err));
        finish_txn(dev, AL_RESULT_UPDATE_FAILED, err);
        return al_journal_commit(dev);
    }
    dev->state.bootloader_active = (uint8_t)(target->role == AL_REGION_BOOTLOADER_B);
    dev->state.txn_phase = AL_PHASE_TRIAL;
    dev->state.trial_boots = 0;
    err = al_journal_commit(dev);
    *reset = err == AL_OK; /* boot0 must now start the new copy */
    return err;
}

/* Module install, step 1: keep what the slot holds in the backup region. */
static al_err install_requested(struct al_device *dev)
{
    const struct al_region *slot = &dev->cfg.layout->regions[dev->state.txn_region];
    const struct al_region *backup = al_layout_find(dev->cfg.layout, AL_REGION_BACKUP);
    struct al_image_header h, old;
    al_err err = staging_matches(dev, &h);
    if (err != AL_OK) {
        al_set_reason(dev, "staged image invalid: ", al_strerror(err));
        finish_txn(dev, AL_RESULT_INTEGRITY_FAILURE, err);
        return al_journal_commit(dev);
    }
    dev->state.txn_had_backup = 0;
    if (al_slot_verify(dev, slot, slot, &old) == AL_OK) {
        err = al_slot_copy(dev, slot, backup, slot, old.payload_size);
        if (err == AL_OK)
            err = al_slot_verify(dev, backup, slot, &h);
        if (err == AL_ERR_POWER_LOSS)
            return err; /* retried on the next boot; the slot is untouched */
        if (err != AL_OK) {
            al_set_reason(dev, "backup failed: ", al_strerror(err));
            finish_txn(dev, AL_RESULT_UPDATE_FAILED, err);
            return al_journal_commit(dev);
        }
        dev->state.txn_had_backup = 1;
    }
    dev->state.txn_phase = AL_PHASE_BACKED_UP;
    return al_journal_commit(dev);
}

/* Module install, step 2: copy staging into the slot; the new image then boots on trial. */
static al_err install_backed_up(struct al_device *dev, struct al_boot_info *info)
{
    const struct al_region *slot = &dev->cfg.layout->regions[dev->state.txn_region];
    struct al_image_header h;
    al_err err = staging_matches(dev, &h);
    if (err == AL_OK)
        err = al_staging_install(dev, &h, slot);
    if (err == AL_OK)
        err = al_slot_verify(dev, slot, slot, &h);
    if (err == AL_ERR_POWER_LOSS)
        return err;
    if (err != AL_OK) {
        al_set_reason(dev, "install failed: ", al_strerror(err));
        dev->state.last_err = (uint8_t)err;
        dev->state.txn_phase = AL_PHASE_REVERTING;
        return al_journal_commit(dev);
    }
    dev->state.txn_phase = AL_PHASE_TRIAL;
    dev->state.trial_boots = 1; /* this boot is the first on trial */
    info->installed = true;
    return al_journal_commit(dev);
}

/* A boot of a module on trial: count it, and give up past the limit. */
static al_err install_trial(struct al_device *dev, enum al_reset_reason why)
{
    dev->state.trial_boots++;
    dev->state.last_reset_reason = (uint8_t)why;
    if (dev->state.trial_boots > dev->cfg.max_trial_boots) {
        al_set_reason(dev, "not confirmed", reset_name(why));
        dev->state.last_err = AL_OK;
        dev->state.txn_phase = AL_PHASE_REVERTING;
    }
    return al_journal_commit(dev);
}

/* Put the backup back into the slot (or leave it empty if it was). */
static al_err install_reverting(struct al_device *dev, struct al_boot_info *info)
{
    const struct al_region *slot = &dev->cfg.layout->regions[dev->state.txn_region];
    const struct al_region *backup = al_layout_find(dev->cfg.layout, AL_REGION_BACKUP);
    struct al_image_header h;
    al_err err;
    uint8_t result = dev->state.last_err ? AL_RESULT_UPDATE_FAILED : AL_RESULT_REVERTED;
    if (dev->state.txn_had_backup) {
        err = al_slot_verify(dev, backup, slot, &h);
        if (err == AL_OK)
            err = al_slot_copy(dev, backup, slot, slot, h.payload_size);
        if (err == AL_OK)
            err = al_slot_verify(dev, slot, slot, &h);
    } else {
        err = al_region_erase(slot, slot->size);
    }
    if (err == AL_ERR_POWER_LOSS)
        return err; /* the backup is intact: the next boot tries again */
    if (err != AL_OK) {
        /* The backup itself is bad: nothing to go back to. Keep what the slot holds. */
        al_set_reason(dev, "revert impossible: ", al_strerror(err));
        result = AL_RESULT_UPDATE_FAILED;
    }
    finish_txn(dev, result, (al_err)dev->state.last_err);
    info->reverted = true;
    return al_journal_commit(dev);
}

/* Run the transaction as far as it goes on this boot. */
static al_err run_transaction(struct al_device *dev, enum al_reset_reason why,
                              struct al_boot_info *info, bool *reset)
{
    for (int guard = 0; guard < 8; guard++) {
        struct al_journal_state *s = &dev->state;
        al_err err = AL_OK;
        if (s->txn_kind == AL_TXN_BOOTLOADER && s->txn_phase == AL_PHASE_REQUESTED)
            return bootloader_requested(dev, reset);
        if (s->txn_kind != AL_TXN_INSTALL)
            return AL_OK; /* nothing, or a bootloader trial handled by boot0 */
        switch (s->txn_phase) {
        case AL_PHASE_REQUESTED: err = install_requested(dev); break;
        case AL_PHASE_BACKED_UP:
            err = install_backed_up(dev, info);
            if (err == AL_OK && s->txn_phase == AL_PHASE_TRIAL)
                return AL_OK; /* this boot is the new image's first trial boot */
            break;
        case AL_PHASE_TRIAL:
            err = install_trial(dev, why);
            if (err == AL_OK && s->txn_phase == AL_PHASE_TRIAL)
                return AL_OK;
            break;
        case AL_PHASE_REVERTING: err = install_reverting(dev, info); break;
        default:
            /* A phase this code never writes: drop the transaction rather than guess. */
            al_set_reason(dev, "unknown install phase", NULL);
            finish_txn(dev, AL_RESULT_UPDATE_FAILED, AL_ERR_INTERNAL);
            return al_journal_commit(dev);
        }
        if (err != AL_OK)
            return err;
    }
    return AL_ERR_INTERNAL;
}

/* Decide what runs: the application if everything verifies and depends right. */
static void choose_target(struct al_device *dev, struct al_boot_info *info)
{
    struct al_installed mods[AL_MAX_MODULES];
    size_t n = al_collect_modules(dev, NULL, mods);
    bool system = false, app = false;
    for (size_t i = 0; i < n; i++) {
        system |= mods[i].present && mods[i].function == AL_FN_SYSTEM;
        app |= mods[i].present && mods[i].function == AL_FN_APPLICATION;
    }
    info->reason[0] = '\0';
    if (!system && !app) {
        info->target = AL_RUN_NOTHING;
        memcpy(info->reason, "no firmware installed", sizeof "no firmware installed");
    } else if (al_dependencies_met(mods, n, NULL, info->reason, sizeof info->reason) != AL_OK) {
        info->target = AL_RUN_SAFE_MODE;
    } else if (!app) {
        info->target = AL_RUN_SAFE_MODE;
        memcpy(info->reason, "no application installed", sizeof "no application installed");
    } else {
        info->target = AL_RUN_APPLICATION;
    }
}

al_err al_boot(struct al_device *dev, enum al_reset_reason why, struct al_boot_info *info)
{
    if (dev == NULL || info == NULL)
        return AL_ERR_INVALID_ARG;
    memset(info, 0, sizeof *info);
    if (!dev->open)
        return AL_ERR_STATE;
    for (int boots = 0; boots < 2; boots++) {
        bool reset = false;
        al_err err = boot0(dev, why, info);
        if (err == AL_OK)
            err = run_transaction(dev, why, info, &reset);
        if (err == AL_ERR_POWER_LOSS)
            return err;
        if (err != AL_OK) {
            /* The journal keeps the step; boot what is there and try again next time. */
            info->state = al_boot_state(dev);
            choose_target(dev, info);
            return err;
        }
        if (!reset)
            break;
        why = AL_RESET_SOFTWARE; /* the bootloader reset into the new bootloader copy */
    }
    info->state = al_boot_state(dev);
    choose_target(dev, info);
    return AL_OK;
}
