/*
 * journal.c - the install journal: power-safe persistent state on two flash areas.
 *
 * Each record is a full snapshot of struct al_journal_state, AL_JOURNAL_RECORD_SIZE bytes,
 * with a sequence number and a CRC-32. Records are appended to the erased space of one area;
 * when it is full the other area is erased and the next record starts it. On load the valid
 * record with the highest sequence number wins, so a torn append or a torn erase can only
 * lose the record being written, never an older one. Byte layout: docs/install-engine.md.
 */
#include <string.h>

#include "bytes.h"
#include "install_priv.h"

#define REC_MAGIC 0x314a4c41u /* "ALJ1" little-endian */
#define REC_CRC_OFF (AL_JOURNAL_RECORD_SIZE - 4)

/* Field offsets inside a record. */
enum {
    OFF_MAGIC = 0,
    OFF_SEQ = 4,
    OFF_BL_ACTIVE = 8,
    OFF_TXN_KIND = 9,
    OFF_TXN_PHASE = 10,
    OFF_TXN_REGION = 11,
    OFF_TXN_BACKUP = 12,
    OFF_TRIAL_BOOTS = 13,
    OFF_RESET_REASON = 14,
    OFF_RESULT = 15,
    OFF_RESULT_REGION = 16,
    OFF_RESULT_ERR = 17,
    OFF_REASON = 18,                            /* AL_REASON_MAX bytes */
    OFF_STAGED_SHA = OFF_REASON + AL_REASON_MAX, /* 66 */
    OFF_RESULT_VERSION = OFF_STAGED_SHA + 32,   /* 98, 28 bytes */
    OFF_COUNTERS = OFF_RESULT_VERSION + AL_VERSION_WIRE_SIZE, /* 126, 4 x AL_MAX_MODULES */
    OFF_BOOT_COUNT = OFF_COUNTERS + 4 * AL_MAX_MODULES,     /* 174 */
    OFF_DL_PLAN = OFF_BOOT_COUNT + 4,                       /* 178 */
    OFF_DL_STEP = OFF_DL_PLAN + 4,                          /* 182 */
    OFF_DL_OFFSET = OFF_DL_STEP + 1,                        /* 183 */
    OFF_DL_SHA = OFF_DL_OFFSET + 4,                         /* 187 */
    OFF_DL_RESULT = OFF_DL_SHA + 32,                        /* 219 */
    OFF_DL_ERR = OFF_DL_RESULT + 1,                         /* 220 */
    OFF_DL_OUT = OFF_DL_ERR + 1,                            /* 221 */
    OFF_DL_WRITTEN = OFF_DL_OUT + 4,                        /* 225 */
    OFF_END = OFF_DL_WRITTEN + 4,                           /* 229 */
};
_Static_assert(OFF_END <= REC_CRC_OFF, "journal record fields overflow the record");

static void encode(const struct al_journal_state *s, uint8_t *rec)
{
    memset(rec, 0, AL_JOURNAL_RECORD_SIZE);
    al_put32(rec + OFF_MAGIC, REC_MAGIC);
    al_put32(rec + OFF_SEQ, s->seq);
    rec[OFF_BL_ACTIVE] = s->bootloader_active;
    rec[OFF_TXN_KIND] = s->txn_kind;
    rec[OFF_TXN_PHASE] = s->txn_phase;
    rec[OFF_TXN_REGION] = s->txn_region;
    rec[OFF_TXN_BACKUP] = s->txn_had_backup;
    rec[OFF_TRIAL_BOOTS] = s->trial_boots;
    rec[OFF_RESET_REASON] = s->last_reset_reason;
    rec[OFF_RESULT] = s->last_result;
    rec[OFF_RESULT_REGION] = s->last_result_region;
    rec[OFF_RESULT_ERR] = s->last_err;
    memcpy(rec + OFF_REASON, s->last_reason, AL_REASON_MAX);
    memcpy(rec + OFF_STAGED_SHA, s->staged_sha256, 32);
    al_version_encode(&s->last_result_version, rec + OFF_RESULT_VERSION);
    for (size_t i = 0; i < AL_MAX_MODULES; i++)
        al_put32(rec + OFF_COUNTERS + 4 * i, s->counters[i]);
    al_put32(rec + OFF_BOOT_COUNT, s->boot_count);
    al_put32(rec + OFF_DL_PLAN, s->dl.plan_id);
    rec[OFF_DL_STEP] = s->dl.step;
    al_put32(rec + OFF_DL_OFFSET, s->dl.offset);
    memcpy(rec + OFF_DL_SHA, s->dl.sha256, 32);
    rec[OFF_DL_RESULT] = s->dl.result;
    rec[OFF_DL_ERR] = s->dl.err;
    al_put32(rec + OFF_DL_OUT, s->dl.out_offset);
    al_put32(rec + OFF_DL_WRITTEN, s->dl.written);
    al_put32(rec + REC_CRC_OFF, al_crc32(0, rec, REC_CRC_OFF));
}

/* Returns true if rec is an intact record; fills *s. */
static bool decode(const uint8_t *rec, struct al_journal_state *s)
{
    if (al_get32(rec + OFF_MAGIC) != REC_MAGIC || al_get32(rec + REC_CRC_OFF) != al_crc32(0, rec, REC_CRC_OFF))
        return false;
    memset(s, 0, sizeof *s);
    s->seq = al_get32(rec + OFF_SEQ);
    s->bootloader_active = rec[OFF_BL_ACTIVE] & 1u;
    s->txn_kind = rec[OFF_TXN_KIND];
    s->txn_phase = rec[OFF_TXN_PHASE];
    s->txn_region = rec[OFF_TXN_REGION];
    s->txn_had_backup = rec[OFF_TXN_BACKUP];
    s->trial_boots = rec[OFF_TRIAL_BOOTS];
    s->last_reset_reason = rec[OFF_RESET_REASON];
    s->last_result = rec[OFF_RESULT];
    s->last_result_region = rec[OFF_RESULT_REGION];
    s->last_err = rec[OFF_RESULT_ERR];
    memcpy(s->last_reason, rec + OFF_REASON, AL_REASON_MAX);
    s->last_reason[AL_REASON_MAX - 1] = '\0';
    memcpy(s->staged_sha256, rec + OFF_STAGED_SHA, 32);
    if (al_version_decode(rec + OFF_RESULT_VERSION, &s->last_result_version) != AL_OK)
        memset(&s->last_result_version, 0, sizeof s->last_result_version);
    for (size_t i = 0; i < AL_MAX_MODULES; i++)
        s->counters[i] = al_get32(rec + OFF_COUNTERS + 4 * i);
    s->boot_count = al_get32(rec + OFF_BOOT_COUNT);
    s->dl.plan_id = al_get32(rec + OFF_DL_PLAN);
    s->dl.step = rec[OFF_DL_STEP];
    s->dl.offset = al_get32(rec + OFF_DL_OFFSET);
    memcpy(s->dl.sha256, rec + OFF_DL_SHA, 32);
    s->dl.result = rec[OFF_DL_RESULT];
    s->dl.err = rec[OFF_DL_ERR];
    s->dl.out_offset = al_get32(rec + OFF_DL_OUT);
    s->dl.written = al_get32(rec + OFF_DL_WRITTEN);
    return true;
}

static const struct al_region *area(const struct al_device *dev, uint8_t which)
{
    return al_layout_find(dev->cfg.layout, which ? AL_REGION_JOURNAL_B : AL_REGION_JOURNAL_A);
}

static bool is_blank(const uint8_t *p, size_t n, uint8_t erased)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != erased)
            return false;
    return true;
}

/* Record slot after the last non-blank one in an area (its count if the area is full). */
static al_err find_append_slot(const struct al_region *r, uint32_t *next)
{
    uint8_t rec[AL_JOURNAL_RECORD_SIZE];
    uint32_t n = r->size / AL_JOURNAL_RECORD_SIZE;
    *next = 0;
    for (uint32_t i = 0; i < n; i++) {
        al_err err = al_region_read(r, i * AL_JOURNAL_RECORD_SIZE, rec, sizeof rec);
        if (err != AL_OK)
            return err;
        if (!is_blank(rec, sizeof rec, r->flash->erased_value))
            *next = i + 1;
    }
    return AL_OK;
}

/*
 * A record with a good CRC can still describe a transaction this layout cannot have (flash
 * written by another build, or damage that kept the CRC): drop such a transaction rather
 * than act on it. The anti-rollback floors and results are kept.
 */
static void sanitize(struct al_device *dev)
{
    struct al_journal_state *s = &dev->state;
    const struct al_layout *l = dev->cfg.layout;
    bool ok;
    switch (s->txn_kind) {
    case AL_TXN_NONE:
        ok = true;
        break;
    case AL_TXN_INSTALL:
        ok = s->txn_region < l->count && l->regions[s->txn_region].role == AL_REGION_SLOT &&
             s->txn_phase >= AL_PHASE_REQUESTED && s->txn_phase <= AL_PHASE_REVERTING;
        break;
    case AL_TXN_BOOTLOADER:
        ok = s->txn_region < l->count &&
             (l->regions[s->txn_region].role == AL_REGION_BOOTLOADER_A ||
              l->regions[s->txn_region].role == AL_REGION_BOOTLOADER_B) &&
             (s->txn_phase == AL_PHASE_REQUESTED || s->txn_phase == AL_PHASE_TRIAL);
        break;
    default:
        ok = false;
    }
    if (!ok) {
        s->txn_kind = AL_TXN_NONE;
        s->txn_phase = AL_PHASE_IDLE;
        s->last_result = AL_RESULT_UPDATE_FAILED;
        s->last_err = AL_ERR_JOURNAL;
    }
    if (s->txn_kind == AL_TXN_NONE)
        s->txn_phase = AL_PHASE_IDLE;
    if (s->last_result_region >= l->count)
        s->last_result_region = 0;
}

al_err al_journal_load(struct al_device *dev)
{
    uint8_t rec[AL_JOURNAL_RECORD_SIZE];
    struct al_journal_state s;
    bool found = false;
    memset(&dev->state, 0, sizeof dev->state);
    dev->journal_area = 0;
    for (uint8_t a = 0; a < 2; a++) {
        const struct al_region *r = area(dev, a);
        for (uint32_t i = 0; i < r->size / AL_JOURNAL_RECORD_SIZE; i++) {
            al_err err = al_region_read(r, i * AL_JOURNAL_RECORD_SIZE, rec, sizeof rec);
            if (err != AL_OK)
                return err;
            if (decode(rec, &s) && (!found || s.seq > dev->state.seq)) {
                dev->state = s;
                dev->journal_area = a;
                found = true;
            }
        }
    }
    sanitize(dev);
    return find_append_slot(area(dev, dev->journal_area), &dev->journal_next);
}

al_err al_journal_commit(struct al_device *dev)
{
    uint8_t rec[AL_JOURNAL_RECORD_SIZE];
    const struct al_region *r = area(dev, dev->journal_area);
    al_err err;
    if (dev->journal_next >= r->size / AL_JOURNAL_RECORD_SIZE) {
        /* Area full: start the other one. Until its first record is complete, the newest
         * record is still the last one of this area. */
        uint8_t other = (uint8_t)(dev->journal_area ^ 1u);
        r = area(dev, other);
        err = al_region_erase(r, r->size);
        if (err != AL_OK)
            return err;
        dev->journal_area = other;
        dev->journal_next = 0;
    }
    dev->state.seq++;
    encode(&dev->state, rec);
    err = al_region_program(r, dev->journal_next * AL_JOURNAL_RECORD_SIZE, rec, sizeof rec);
    /* Even a failed program may have used the slot: never program it twice. */
    dev->journal_next++;
    return err;
}
