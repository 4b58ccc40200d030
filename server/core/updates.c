/*
 * updates.c - see updates.h.
 *
 * An update's life (docs/protocol.md, "Server state machine"):
 *   queued -> downloading -> verifying -> installing -> rebooting -> confirming
 *          -> (next step: downloading ...) -> succeeded | failed | reverted | cancelled
 * Every transition comes from something the device said (inventory, status, a block
 * fetched, its session ending) or from a user (queue, cancel). The plan is recomputed from
 * each inventory, so a lost status report costs nothing: the next inventory tells the truth.
 */
#include "updates.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlift/image.h"
#include "airlift/proto.h"
#include "airlift/wire.h"
#include "blobs.h"
#include "devcache.h"
#include "devices.h"
#include "images.h"
#include "log.h"
#include "planner.h"
#include "swu.h"
#include "airlift_common/platform.h"
#include "transfers.h"
#include "workers.h"

#define BLOB_CACHE 4            /* image files kept in memory for transfers */
#define CATALOG_MAX 256         /* images of one platform the planner considers */
#define PROGRESS_EVERY 8192     /* persist transfer progress every this many bytes */
#define API_WAIT_MS 5000        /* the API waits this long at most for a transfer being made */
#define API_WAITERS 1           /* requests that may wait at once (the others answer at once) */
#define ENCODE_BYTES_PER_S 100000u /* the encoder's pace on incompressible data, about */
#define POLL_BUSY_S 30          /* come back after this when the encoding queue is full */

struct blob {
    char key[ALD_TRANSFER_KEY_MAX + 1]; /* the transfer's name (transfers.h) */
    uint8_t *data;                   /* the whole image file, or stream */
    size_t len;
    uint8_t file_sha256[32];         /* what the device checks the transfer against */
    unsigned refs;
    uint64_t used;                   /* for least-recently-used eviction */
};

struct ald_updates {
    struct ald_store *st;
    const char *data_dir;
    pthread_mutex_t lock;
    struct blob blobs[BLOB_CACHE];
    uint64_t clock;
    struct ald_workers *workers; /* makes transfers; NULL: made on the asking thread */
    pthread_mutex_t wait_lock;   /* guards api_waiters */
    unsigned api_waiters;        /* API requests waiting for a transfer now */
    struct ald_devcache *sessions; /* issue 11 (checkin): device rows of sessions (devcache.h) */
    /* issue 16 (speed): the identities of the last devices an update was queued for */
    char queued_ids[ALD_QUEUED_KEEP][ALD_IDENTITY_MAX + 1];
    uint64_t queued_count;
};

static const char *const final_states[] = {"succeeded", "failed", "reverted", "cancelled"};

bool ald_update_state_final(const char *state)
{
    for (size_t i = 0; i < sizeof final_states / sizeof final_states[0]; i++)
        if (!strcmp(state, final_states[i]))
            return true;
    return false;
}

int ald_updates_open(struct ald_updates **out, struct ald_store *st, const char *data_dir)
{
    struct ald_updates *u = calloc(1, sizeof *u);
    if (!u)
        return -1;
    u->st = st;
    u->data_dir = data_dir;
    pthread_mutex_init(&u->lock, NULL);
    pthread_mutex_init(&u->wait_lock, NULL);
    u->sessions = ald_devcache_new(ALD_DEVCACHE_SLOTS, ALD_DEVCACHE_TTL_MS); /* NULL: no cache */
    *out = u;
    return 0;
}

int ald_updates_start_workers(struct ald_updates *u, unsigned threads, size_t queue)
{
    if (u->workers)
        return -1;
    return ald_workers_open(&u->workers, threads, queue, ald_transfer_job, (void *)u->data_dir);
}

void ald_updates_close(struct ald_updates *u)
{
    if (!u)
        return;
    ald_workers_close(u->workers); /* a running job finishes first */
    for (int i = 0; i < BLOB_CACHE; i++)
        free(u->blobs[i].data);
    ald_devcache_free(u->sessions);
    pthread_mutex_destroy(&u->wait_lock);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

/* ---- image files ---- */

/* The cached bytes of a transfer, loading them and evicting the least recently used idle
 * blob. NULL if not held (a stream is never made here: the plan that names it waited for
 * it). */
static struct blob *blob_get(struct ald_updates *u, const char *key)
{
    struct blob *victim = NULL;
    struct ald_transfer t;
    for (int i = 0; i < BLOB_CACHE; i++) {
        struct blob *b = &u->blobs[i];
        if (b->data && !strcmp(b->key, key)) {
            b->used = ++u->clock;
            return b;
        }
        if (!b->refs && (!victim || !b->data || (victim->data && b->used < victim->used)))
            victim = b;
    }
    if (!victim || !ald_transfer_parse_key(key, &t))
        return NULL;
    size_t len = 0;
    uint8_t *data = ald_transfer_get(u->data_dir, &t, &len);
    if (!data) {
        ald_log(ALD_LOG_ERROR, "cannot read a transfer", "transfer", key, NULL);
        return NULL;
    }
    free(victim->data);
    memset(victim, 0, sizeof *victim);
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->data = data;
    victim->len = len;
    ald_sha256(data, len, victim->file_sha256);
    victim->used = ++u->clock;
    return victim;
}

/* Forget the cached bytes of a transfer (if no transfer is reading them). */
static void blob_drop(struct ald_updates *u, const char *key)
{
    for (int i = 0; i < BLOB_CACHE; i++)
        if (u->blobs[i].data && !u->blobs[i].refs && !strcmp(u->blobs[i].key, key)) {
            free(u->blobs[i].data);
            memset(&u->blobs[i], 0, sizeof u->blobs[i]);
        }
}

/* The header of held image `id`, read from its blob. false if unreadable. */
static bool image_header(struct ald_updates *u, const char *id, struct al_image_header *h)
{
    uint8_t buf[AL_IMAGE_MAX_HEADER];
    ssize_t n = ald_blob_read(u->data_dir, ALD_BLOB_IMAGE, id, 0, buf, sizeof buf);
    return n > 0 && al_image_parse_header(buf, (size_t)n, h) == AL_OK;
}

struct catalog_build {
    struct ald_updates *u;
    uint16_t platform;
    struct ald_image *images;
    size_t count;
};

static int add_to_catalog(void *ctx, const struct ald_image_rec *m)
{
    struct catalog_build *c = ctx;
    if (m->platform != c->platform || c->count >= CATALOG_MAX)
        return 0;
    if (image_header(c->u, m->id, &c->images[c->count].hdr)) {
        snprintf(c->images[c->count].id, sizeof c->images[0].id, "%s", m->id);
        c->count++;
    }
    return 0;
}

/* Every held image of a platform, parsed (images must hold CATALOG_MAX). */
static bool load_catalog(struct ald_updates *u, uint16_t platform, struct ald_image *images,
                         struct ald_catalog *out)
{
    struct catalog_build c = {u, platform, images, 0};
    if (u->st->ops->image_list(u->st, add_to_catalog, &c) != ALD_STORE_OK)
        return false;
    out->images = images;
    out->count = c.count;
    return true;
}

/* ---- inventory <-> JSON ---- */

static const char *boot_state_name(uint8_t s)
{
    return s == AL_BOOT_TRIAL ? "trial" : s == AL_BOOT_REVERTED ? "reverted" : "confirmed";
}

static uint8_t function_of(const char *name)
{
    for (uint8_t f = 1; f <= AL_FN_MAX; f++)
        if (!strcmp(al_function_name(f), name))
            return f;
    return 0;
}

json_t *ald_inventory_json(const struct al_inventory *inv)
{
    json_t *mods = json_array();
    char hex[ALD_SHA256_HEX + 1], ver[AL_VERSION_STR_MAX];
    for (uint8_t i = 0; i < inv->module_count; i++) {
        const struct al_module_status *m = &inv->modules[i];
        if (!m->present)
            continue;
        alc_hex_encode(m->payload_sha256, AL_SHA256_SIZE, hex);
        al_version_format(&m->version, ver, sizeof ver);
        json_array_append_new(mods, json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:b}",
            "function", al_function_name(m->function), "index", m->index, "version", ver,
            "sha256", hex, "size", (json_int_t)m->size, "security_counter",
            (json_int_t)m->security_counter, "on_trial", m->on_trial));
    }
    json_t *dl = inv->dl_plan_id ? json_pack("{s:I, s:i, s:I}", "plan", (json_int_t)inv->dl_plan_id,
                                             "step", inv->dl_step, "offset",
                                             (json_int_t)inv->dl_offset)
                                 : json_null();
    if (inv->dl_plan_id && inv->dl_result) {
        json_object_set_new(dl, "failed", json_string(al_result_name(inv->dl_result)));
        json_object_set_new(dl, "error", json_string(al_err_name((al_err)inv->dl_err)));
    }
    json_t *root = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:i, s:o, s:o}", "boot_state",
                     boot_state_name(inv->boot_state), "last_result",
                     al_result_name(inv->last_result), "reason", inv->reason, "after_install",
                     (inv->flags & AL_INV_AFTER_INSTALL) != 0, "sleepy",
                     (inv->flags & AL_INV_SLEEPY) != 0, "streams",
                     (inv->flags & AL_INV_STREAMS) != 0, "next_checkin_s", inv->next_checkin_s,
                     "download", dl, "modules", mods);
    json_object_set_new(root, "slots", json_boolean((inv->flags & AL_INV_SLOTS) != 0));
    return root;
}

/* The running modules of a stored inventory (JSON text) and what the device decodes (its
 * flags AL_INV_STREAMS and AL_INV_SLOTS); false if it cannot be read. */
static bool modules_from_json(const char *text, struct al_module_status *mods, size_t *count,
                              uint8_t *decodes)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr), *arr, *m;
    size_t i;
    bool ok = root != NULL;
    *count = 0;
    *decodes = (uint8_t)((root && json_is_true(json_object_get(root, "streams")) ? AL_INV_STREAMS : 0) |
                         (root && json_is_true(json_object_get(root, "slots")) ? AL_INV_SLOTS : 0));
    arr = root ? json_object_get(root, "modules") : NULL;
    json_array_foreach(arr, i, m) {
        const char *fn = json_string_value(json_object_get(m, "function"));
        const char *ver = json_string_value(json_object_get(m, "version"));
        const char *sha = json_string_value(json_object_get(m, "sha256"));
        struct al_module_status *s = &mods[*count];
        if (*count >= AL_MAX_MODULES || !fn || !ver || !sha) {
            ok = false;
            break;
        }
        memset(s, 0, sizeof *s);
        s->function = function_of(fn);
        s->index = (uint8_t)json_integer_value(json_object_get(m, "index"));
        s->present = true;
        if (!s->function || al_version_parse(ver, strlen(ver), &s->version) != AL_OK ||
            !alc_hex_decode(sha, s->payload_sha256, AL_SHA256_SIZE)) {
            ok = false;
            break;
        }
        (*count)++;
    }
    json_decref(root);
    return ok;
}

/* ---- plans ---- */

/* Costs of a step on a 1500-MTU link, measured (docs/protocol.md, "Cost"): the windowed
 * transfer's chunks and window requests on a clean link, and what every step pays once. */
#define WIRE_PER_CHUNK 64u   /* UDP/IPv4 28, DTLS record 29, CoAP header, token, marker, index */
#define WIRE_PER_WINDOW 96u  /* one window request */
#define WIRE_PER_STEP 2200u  /* a handshake, inventories, plan, report, ping, confirmation: the
                              * DTLS session kept across the reset (issue 16); 3,700 without */

uint64_t ald_wire_estimate(uint64_t size)
{
    if (!size)
        return 0;
    uint64_t chunks = (size + AL_WIRE_CHUNK_MAX - 1) / AL_WIRE_CHUNK_MAX, windows = 0;
    for (uint64_t left = chunks, n = AL_WIRE_WINDOW_FIRST; left;
         windows++, n = n < AL_WIRE_WINDOW_MAX ? n * 2 : AL_WIRE_WINDOW_MAX)
        left = left > n ? left - n : 0; /* windows of 16, 32, then 64 chunks */
    return size + chunks * WIRE_PER_CHUNK + windows * WIRE_PER_WINDOW + WIRE_PER_STEP;
}

/* A plan's transfers: per step, what travels (transfers.h), and for a patch the version it
 * applies to. */
struct plan_transfers {
    struct ald_transfer t[ALD_PLAN_MAX_STEPS];
    uint8_t state[ALD_PLAN_MAX_STEPS]; /* enum ald_transfer_state: READY, PENDING or BUSY */
    char base_version[ALD_PLAN_MAX_STEPS][AL_VERSION_STR_MAX];
};

/* A plan's id names exactly what travels: another transfer for a step (a full image after a
 * patch failed) is another plan, so an old download record never matches it. */
static uint32_t plan_id_of(int64_t update_id, const struct ald_plan_result *p,
                           const struct plan_transfers *x)
{
    uint32_t h = 2166136261u; /* FNV-1a over the update id and the step transfers' names */
    for (int i = 0; i < 8; i++)
        h = (h ^ (uint8_t)((uint64_t)update_id >> (8 * i))) * 16777619u;
    for (size_t s = 0; s < p->step_count; s++) {
        char key[ALD_TRANSFER_KEY_MAX + 1];
        ald_transfer_key(&x->t[s], key);
        for (const char *c = key; *c; c++)
            h = (h ^ (uint8_t)*c) * 16777619u;
    }
    return h ? h : 1;
}

static json_t *step_json(const struct ald_image *img, const struct ald_transfer *t,
                         bool making, const char *base_version, const char *state)
{
    const struct al_image_header *h = &img->hdr;
    char hex[ALD_SHA256_HEX + 1], ver[AL_VERSION_STR_MAX], key[ALD_TRANSFER_KEY_MAX + 1];
    alc_hex_encode(h->payload_sha256, AL_SHA256_SIZE, hex);
    al_version_format(&h->version, ver, sizeof ver);
    ald_transfer_key(t, key);
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "function",
                          al_function_name(h->function), "index", h->index, "version", ver,
                          "sha256", hex, "size", (json_int_t)t->size, "image_size",
                          (json_int_t)((uint64_t)h->header_size + h->payload_size), "encoding",
                          making ? "pending" : ald_encoding_name(t->encoding), "transfer", key,
                          "state", state);
    json_object_set_new(o, "image", json_string(img->id));
    if ((t->encoding == AL_ENC_DELTA || t->encoding == AL_ENC_DELTA_SLOTS) && !making) {
        json_object_set_new(o, "base", json_string(t->base));
        json_object_set_new(o, "base_version", json_string(base_version));
    }
    if (t->encoding == AL_ENC_DELTA_SLOTS && !making) { /* the other slots it reads too */
        json_t *also = json_array();
        for (uint8_t k = 0; k < t->also_count; k++)
            json_array_append_new(also, json_string(t->also[k]));
        json_object_set_new(o, "base_also", also);
    }
    return o;
}

/* The id of a held image of payload `sha` in id; false if none is held. */
static bool held_image_of(struct ald_updates *u, const uint8_t *sha, char *id)
{
    char hex[ALD_SHA256_HEX + 1];
    struct ald_image_rec *held = malloc(sizeof *held);
    alc_hex_encode(sha, AL_SHA256_SIZE, hex);
    bool ok = held && u->st->ops->image_get(u->st, hex, held) == ALD_STORE_OK;
    if (ok)
        snprintf(id, ALD_SHA256_HEX + 1, "%s", held->id);
    free(held);
    return ok;
}

/*
 * The other slots a patch of encoding 3 for step s reads after its own (docs/protocol.md,
 * "Encodings"): every other module of the step's function the inventory lists, in its
 * order, each as it will run when the device gets to step s (the image of an earlier step
 * of the plan in that slot, else what runs there now). Their image ids go to also; the
 * count, or 0 if there is no such patch (no other slot, more than ALD_TRANSFER_ALSO_MAX, an
 * image not held, or an earlier step filling a slot of the function that is empty now: the
 * device's order of it is not known yet).
 */
static size_t slots_at_step(struct ald_updates *u, const struct ald_plan_result *p, size_t s,
                            const struct al_module_status *mods, size_t n,
                            char (*also)[ALD_SHA256_HEX + 1])
{
    const struct al_image_header *h = &p->steps[s]->hdr;
    size_t nalso = 0;
    for (size_t j = 0; j < s; j++) {
        const struct al_image_header *e = &p->steps[j]->hdr;
        bool present = false;
        for (size_t i = 0; i < n; i++)
            present |= mods[i].present && mods[i].function == e->function && mods[i].index == e->index;
        if (e->function == h->function && !present)
            return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!mods[i].present || mods[i].function != h->function || mods[i].index == h->index)
            continue;
        if (nalso == ALD_TRANSFER_ALSO_MAX)
            return 0;
        const struct ald_image *earlier = NULL;
        for (size_t j = 0; j < s; j++)
            if (p->steps[j]->hdr.function == h->function && p->steps[j]->hdr.index == mods[i].index)
                earlier = p->steps[j];
        if (earlier)
            snprintf(also[nalso], ALD_SHA256_HEX + 1, "%s", earlier->id);
        else if (!held_image_of(u, mods[i].payload_sha256, also[nalso]))
            return 0;
        nalso++;
    }
    return nalso;
}

/*
 * Choose what travels for each step: a device that decodes streams (decodes has
 * AL_INV_STREAMS), unless this update fell back to full images, gets the smallest of image,
 * compressed image and patch from the image it runs in that slot, and one that reads
 * patches across slots (AL_INV_SLOTS) also of a patch from it and the other slots of the
 * function (encoding 3, docs/protocol.md). Streams not made yet are queued on the pool: the answer
 * is then PENDING (or BUSY, the queue full) and x->state says which steps wait. ERROR if
 * an image file cannot be read.
 */
static enum ald_transfer_state choose_transfers(struct ald_updates *u,
                                                const struct ald_plan_result *p,
                                                const struct al_module_status *mods, size_t n,
                                                uint8_t decodes, struct plan_transfers *x)
{
    enum ald_transfer_state all = ALD_TRANSFER_READY;
    memset(x, 0, sizeof *x);
    for (size_t s = 0; s < p->step_count; s++) {
        const struct al_image_header *h = &p->steps[s]->hdr;
        char target[ALD_SHA256_HEX + 1], base[ALD_SHA256_HEX + 1];
        char also[ALD_TRANSFER_ALSO_MAX][ALD_SHA256_HEX + 1];
        size_t nalso = 0;
        const struct al_module_status *running = NULL;
        for (size_t i = 0; i < n; i++)
            if (mods[i].present && mods[i].function == h->function &&
                (h->function == AL_FN_BOOTLOADER || mods[i].index == h->index))
                running = &mods[i];
        if (running && (decodes & AL_INV_SLOTS) && h->function != AL_FN_BOOTLOADER)
            nalso = slots_at_step(u, p, s, mods, n, also);
        /* The image itself travels (its id names its blob: its own header and counter);
         * a patch applies to the payload the slot holds, read from any image of it. */
        snprintf(target, sizeof target, "%s", p->steps[s]->id);
        if (running && !held_image_of(u, running->payload_sha256, base))
            running = NULL; /* not held: no patch */
        enum ald_transfer_state st =
            ald_transfer_choose(u->data_dir, u->workers, target, running ? base : NULL, also,
                                nalso, (decodes & AL_INV_STREAMS) != 0, &x->t[s]);
        if (st == ALD_TRANSFER_ERROR)
            return st;
        x->state[s] = (uint8_t)st;
        if (st == ALD_TRANSFER_PENDING || (st == ALD_TRANSFER_BUSY && all == ALD_TRANSFER_READY))
            all = st;
        if (running)
            al_version_format(&running->version, x->base_version[s], AL_VERSION_STR_MAX);
    }
    return all;
}

/* Seconds until the streams of a plan that waits are likely made: their images' size at
 * the encoder's pace on data that does not compress, 2..60. */
static uint16_t making_seconds(const struct ald_plan_result *p, const struct plan_transfers *x)
{
    uint64_t bytes = 0;
    for (size_t s = 0; s < p->step_count; s++)
        if (x->state[s] != ALD_TRANSFER_READY)
            bytes += (uint64_t)p->steps[s]->hdr.header_size + p->steps[s]->hdr.payload_size;
    uint64_t secs = 2 + bytes / ENCODE_BYTES_PER_S;
    return (uint16_t)(secs > 60 ? 60 : secs);
}

/*
 * choose_transfers for the API: if a stream is being made, wait for it up to API_WAIT_MS,
 * but only if no other request waits already (API_WAITERS), so slow requests never hold
 * every HTTP worker. Never called on the device endpoint's thread.
 */
static enum ald_transfer_state choose_transfers_api(struct ald_updates *u,
                                                    const struct ald_plan_result *p,
                                                    const struct al_module_status *mods,
                                                    size_t n, uint8_t decodes,
                                                    struct plan_transfers *x)
{
    enum ald_transfer_state st = choose_transfers(u, p, mods, n, decodes, x);
    if (st != ALD_TRANSFER_PENDING || !u->workers)
        return st;
    pthread_mutex_lock(&u->wait_lock);
    bool wait = u->api_waiters < API_WAITERS;
    if (wait)
        u->api_waiters++;
    pthread_mutex_unlock(&u->wait_lock);
    if (!wait)
        return st;
    int64_t until = ald_now_ms() + API_WAIT_MS;
    for (int64_t left; st == ALD_TRANSFER_PENDING && (left = until - ald_now_ms()) > 0;) {
        (void)ald_workers_wait(u->workers, (unsigned)left);
        st = choose_transfers(u, p, mods, n, decodes, x);
    }
    pthread_mutex_lock(&u->wait_lock);
    u->api_waiters--;
    pthread_mutex_unlock(&u->wait_lock);
    return st;
}

/* Does the module list run an image with this payload hash? */
static bool runs(const struct al_module_status *mods, size_t n, const char *sha_hex)
{
    uint8_t sha[AL_SHA256_SIZE];
    if (!alc_hex_decode(sha_hex, sha, sizeof sha))
        return false;
    for (size_t i = 0; i < n; i++)
        if (mods[i].present && !memcmp(mods[i].payload_sha256, sha, sizeof sha))
            return true;
    return false;
}

/*
 * Rewrite rec's steps from a fresh plan: steps of the old plan now running are kept as
 * "done" in front, the plan's steps follow. Sets done/total bytes and the wire estimate of
 * what is left.
 */
static void set_steps(struct ald_update_rec *rec, const struct ald_plan_result *p,
                      const struct plan_transfers *x, const struct al_module_status *mods,
                      size_t n, const char *first_state)
{
    json_t *old = json_loads(rec->steps_json, 0, NULL), *steps = json_array(), *s;
    size_t i;
    uint64_t done = 0, left = 0, wire = 0;
    json_array_foreach(old, i, s) {
        const char *sha = json_string_value(json_object_get(s, "sha256"));
        bool in_plan = false;
        for (size_t k = 0; sha && k < p->step_count; k++) {
            char hex[ALD_SHA256_HEX + 1];
            alc_hex_encode(p->steps[k]->hdr.payload_sha256, AL_SHA256_SIZE, hex);
            in_plan |= !strcmp(hex, sha);
        }
        if (sha && !in_plan && runs(mods, n, sha)) {
            json_object_set_new(s, "state", json_string("done"));
            json_array_append(steps, s);
            done += (uint64_t)json_integer_value(json_object_get(s, "size"));
        }
    }
    json_decref(old);
    for (size_t k = 0; k < p->step_count; k++) {
        uint64_t size = x->t[k].size;
        json_array_append_new(steps, step_json(p->steps[k], &x->t[k],
                                               x->state[k] != ALD_TRANSFER_READY,
                                               x->base_version[k],
                                               k == 0 ? first_state : "pending"));
        left += size;
        wire += ald_wire_estimate(size);
    }
    char *text = json_dumps(steps, JSON_COMPACT);
    if (text && strlen(text) < sizeof rec->steps_json)
        memcpy(rec->steps_json, text, strlen(text) + 1);
    free(text);
    json_decref(steps);
    rec->done_bytes = done;
    rec->total_bytes = done + left;
    if (!rec->wire_estimate || rec->estimate_only)
        rec->wire_estimate = wire;
}

/* The images an update wants, as held images. false (code = hash) if one is not held. */
static bool wanted_images(struct ald_updates *u, const char *wanted_json, struct ald_image *out,
                          size_t *n, char *code, size_t codelen)
{
    json_t *arr = json_loads(wanted_json, 0, NULL), *v;
    size_t i;
    bool ok = arr != NULL;
    *n = 0;
    json_array_foreach(arr, i, v) {
        const char *sha = json_string_value(v);
        if (!sha || *n >= ALD_PLAN_MAX_STEPS || !image_header(u, sha, &out[*n].hdr)) {
            snprintf(code, codelen, "%s", sha ? sha : "?");
            ok = false;
            break;
        }
        snprintf(out[*n].id, sizeof out[*n].id, "%s", sha);
        (*n)++;
    }
    json_decref(arr);
    return ok;
}

static const char *plan_error_name(enum ald_plan_error e)
{
    switch (e) {
    case ALD_PLAN_MISSING_DEPENDENCY: return "missing_dependency";
    case ALD_PLAN_NO_ORDER: return "no_order";
    case ALD_PLAN_TOO_MANY_STEPS: return "too_many_steps";
    case ALD_PLAN_WRONG_PLATFORM: return "wrong_platform";
    case ALD_PLAN_CONFLICT: return "conflict";
    default: return "ok";
    }
}

/*
 * Plan rec's wanted images for a device of `platform` running mods[0..n). Returns false
 * with code/msg set if the images are not held or cannot be installed.
 */
static bool plan_update(struct ald_updates *u, uint16_t platform, const struct ald_update_rec *rec,
                        const struct al_module_status *mods, size_t n, bool unreported,
                        struct ald_image *catalog_buf, struct ald_plan_result *p, char *code,
                        size_t codelen, char *msg, size_t msglen)
{
    struct ald_image wanted[ALD_PLAN_MAX_STEPS];
    const struct ald_image *wp[ALD_PLAN_MAX_STEPS];
    struct ald_catalog catalog;
    size_t wn = 0;
    if (!wanted_images(u, rec->wanted_json, wanted, &wn, code, codelen)) {
        snprintf(msg, msglen, "image %s is not held by the server", code);
        return false;
    }
    if (!load_catalog(u, platform, catalog_buf, &catalog)) {
        snprintf(code, codelen, "internal");
        snprintf(msg, msglen, "cannot read the image catalog");
        return false;
    }
    for (size_t i = 0; i < wn; i++) /* plan with the catalog's copies, so steps point there */
        for (size_t k = 0; k < catalog.count; k++)
            if (!strcmp(catalog.images[k].id, wanted[i].id))
                wanted[i] = catalog.images[k];
    for (size_t i = 0; i < wn; i++)
        wp[i] = &wanted[i];
    if (unreported)
        ald_plan_unreported(platform, wp, wn, p);
    else
        ald_plan(platform, mods, n, wp, wn, &catalog, p);
    for (size_t s = 0; s < p->step_count; s++) /* steps may point at `wanted`: re-point */
        for (size_t k = 0; k < catalog.count; k++)
            if (!strcmp(catalog.images[k].id, p->steps[s]->id))
                p->steps[s] = &catalog.images[k];
    if (p->error != ALD_PLAN_OK) {
        snprintf(code, codelen, "%s", plan_error_name(p->error));
        snprintf(msg, msglen, "%s", p->why);
        return false;
    }
    return true;
}

/* ---- state changes ---- */

/* An update saved and its event appended in one transaction: both or neither. */
struct save_with_event {
    struct ald_update_rec *rec;
    int64_t rev;      /* rec->rev before the first attempt (a retry saves from it again) */
    const char *type; /* the event, or NULL for none */
    const char *data;
};

static enum ald_store_rc save_with_event_tx(struct ald_store *tx, void *ctx)
{
    struct save_with_event *se = ctx;
    se->rec->rev = se->rev;
    enum ald_store_rc rc = tx->ops->update_save(tx, se->rec);
    if (rc == ALD_STORE_OK && se->type)
        rc = ald_event_emit_rollout(tx, se->type, se->rec->device, se->rec->id,
                                    se->rec->rollout_id, se->data);
    return rc;
}

static enum ald_store_rc save_with_event(struct ald_store *st, struct ald_update_rec *rec,
                                         const char *type, const char *data, bool progress)
{
    struct save_with_event se = {rec, rec->rev, type, data};
    /* Transfer progress alone (same state, no event) is renewed by the device's next
     * request: bookkeeping (docs/store.md, "Durability"). */
    enum ald_store_rc rc = progress && !type
                               ? ald_store_txn_bookkeeping(st, save_with_event_tx, &se)
                               : ald_store_txn(st, save_with_event_tx, &se);
    if (rc != ALD_STORE_OK)
        rec->rev = se.rev;
    return rc;
}

/* The data of an update's state event: result, why, step, offset, and the members of extra
 * (an object, borrowed; NULL: none). Free the text. */
static char *state_event_text(const struct ald_update_rec *rec, json_t *extra)
{
    json_t *data = json_pack("{s:s, s:s, s:I, s:I}", "result", rec->result, "why", rec->why,
                             "step", (json_int_t)rec->step, "offset", (json_int_t)rec->offset);
    if (data && extra)
        json_object_update(data, extra);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    return text;
}

/* Move rec to `state`, stamping times, saving it and writing an event whose data has the
 * members of `extra` too (an object, stolen; NULL: none), in one transaction. */
static void transition_ex(struct ald_updates *u, struct ald_update_rec *rec, const char *state,
                          const char *result, const char *why, json_t *extra)
{
    int64_t now = ald_now_ms();
    bool changed = strcmp(rec->state, state) != 0;
    snprintf(rec->state, sizeof rec->state, "%s", state);
    if (result)
        snprintf(rec->result, sizeof rec->result, "%s", result);
    if (why)
        snprintf(rec->why, sizeof rec->why, "%s", why);
    if (!rec->started_at && strcmp(state, "queued") && strcmp(state, "cancelled"))
        rec->started_at = now;
    if (ald_update_state_final(state) && !rec->finished_at)
        rec->finished_at = now;
    rec->updated_at = now;
    char type[ALD_EVENT_TYPE_MAX + 1];
    char *text = state_event_text(rec, extra);
    snprintf(type, sizeof type, "update.%s", state);
    enum ald_store_rc rc =
        save_with_event(u->st, rec, changed ? type : NULL, text, !changed && !result && !why);
    if (rc == ALD_STORE_OK && changed) {
        if (rec->why[0])
            ald_log(ALD_LOG_INFO, "update", "device", rec->device, "state", state, "why",
                    rec->why, NULL);
        else
            ald_log(ALD_LOG_INFO, "update", "device", rec->device, "state", state, NULL);
    }
    free(text);
    json_decref(extra);
}

static void transition(struct ald_updates *u, struct ald_update_rec *rec, const char *state,
                       const char *result, const char *why)
{
    transition_ex(u, rec, state, result, why, NULL);
}

static bool step_done(json_t *step)
{
    const char *state = json_string_value(json_object_get(step, "state"));
    return state && !strcmp(state, "done");
}

static bool state_is(const struct ald_update_rec *rec, const char *const *states)
{
    for (; *states; states++)
        if (!strcmp(rec->state, *states))
            return true;
    return false;
}

/* The step of the plan that is n-th among the steps not done, or NULL. steps is borrowed. */
static json_t *plan_step(json_t *steps, uint32_t n)
{
    json_t *s;
    size_t i, k = 0;
    json_array_foreach(steps, i, s) {
        if (step_done(s))
            continue;
        if (k++ == n)
            return s;
    }
    return NULL;
}

/*
 * Is this refusal about the image itself, not the bytes that carried it? The full image is
 * the very same image: a key the device does not trust, another platform, a lower security
 * counter, unmet dependencies, no slot, another link address, an unknown format or a size
 * that does not fit are refused again whatever travels. Everything else (a corrupt or
 * truncated stream, a hash that does not match what was decoded, ...) is the stream's.
 */
static bool image_refusal(uint8_t err)
{
    switch ((al_err)err) {
    case AL_ERR_UNKNOWN_KEY:
    case AL_ERR_WRONG_PLATFORM:
    case AL_ERR_ROLLBACK:
    case AL_ERR_DEPENDENCY:
    case AL_ERR_NO_SLOT:
    case AL_ERR_LINK_ADDRESS:
    case AL_ERR_FORMAT_VERSION:
    case AL_ERR_TOO_LARGE:
        return true;
    default:
        return false;
    }
}

/*
 * The device could not use step `step` of the update's current plan (its report said so,
 * or the failure kept in its next inventory). A compressed or delta transfer the device
 * could not apply falls back to full images: the next plan sends the image file. A refusal
 * of the image itself (image_refusal), or any failure of a full image, ends the update
 * (failed, with the device's reason). Returns true if the update goes on. Called with
 * u->lock held.
 */
static bool step_failure(struct ald_updates *u, struct ald_update_rec *rec, uint32_t step,
                         uint8_t result, uint8_t err)
{
    char why[ALD_WHY_MAX + 1];
    json_t *steps = json_loads(rec->steps_json, 0, NULL), *s = plan_step(steps, step);
    const char *enc = s ? json_string_value(json_object_get(s, "encoding")) : NULL;
    bool stream = enc && strcmp(enc, "full") != 0 && !image_refusal(err);
    if (stream && !rec->full_only) {
        char data[ALD_WHY_MAX + 64];
        const char *key = json_string_value(json_object_get(s, "transfer"));
        struct ald_transfer t;
        if (key && ald_transfer_parse_key(key, &t)) {
            ald_transfer_forget(u->data_dir, &t);
            blob_drop(u, key);
        }
        rec->full_only = true;
        snprintf(why, sizeof why, "the device could not apply the %s transfer of step %u (%s): "
                 "sending the full image", enc, step + 1, al_err_name((al_err)err));
        snprintf(rec->why, sizeof rec->why, "%s", why);
        rec->updated_at = ald_now_ms();
        snprintf(data, sizeof data, "{\"step\":%u,\"encoding\":\"%s\",\"error\":\"%s\"}",
                 step, enc, al_err_name((al_err)err));
        if (save_with_event(u->st, rec, "update.fallback", data, false) == ALD_STORE_OK) {
            ald_log(ALD_LOG_WARN, "falling back to full images", "device", rec->device, "why",
                    why, NULL);
        }
    } else if (!stream) {
        snprintf(why, sizeof why, "the device refused step %u: %s (%s)", step + 1,
                 al_result_name(result), al_strerror((al_err)err));
        transition_ex(u, rec, "failed", al_result_name(result), why,
                      json_pack("{s:s, s:s}", "error", al_err_name((al_err)err), "encoding",
                                enc ? enc : "full"));
    }
    json_decref(steps);
    return stream; /* a stream's failure, now or already, is handled by sending full images */
}

/*
 * An inventory from a device with an active update: move the update along and fill the
 * answer. Called with u->lock held.
 */
static void advance(struct ald_updates *u, const struct ald_device_rec *dev,
                    struct ald_update_rec *rec, const struct al_inventory *inv, struct al_plan *plan)
{
    static const char *const after_install[] = {"installing", "rebooting", "confirming", NULL};
    struct ald_image *catalog = malloc(CATALOG_MAX * sizeof *catalog);
    struct plan_transfers *x = malloc(sizeof *x);
    struct ald_plan_result p;
    char code[ALD_SHA256_HEX + 1], msg[ALD_WHY_MAX + 1];
    plan->status = AL_PLAN_UP_TO_DATE;
    if (!catalog || !x) {
        free(catalog);
        free(x);
        return;
    }
    if (!strcmp(rec->state, "installing")) {
        /* issue 16 (speed): a device reports "installing" and resets, so its next inventory
         * comes after the reset. One that kept its DTLS session across the reset (docs/
         * protocol.md, "Session") never ends it, so this inventory says it rebooted. */
        transition(u, rec, "rebooting", NULL, NULL);
    }
    if (inv->boot_state == AL_BOOT_REVERTED && state_is(rec, after_install)) {
        char why[ALD_WHY_MAX + 1];
        snprintf(why, sizeof why, "the new firmware never confirmed; the device went back: %s",
                 inv->reason[0] ? inv->reason : al_result_name(inv->last_result));
        transition(u, rec, "reverted", al_result_name(AL_RESULT_REVERTED), why);
        goto out;
    }
    if (inv->dl_plan_id && inv->dl_plan_id == rec->plan_id && inv->dl_result &&
        !step_failure(u, rec, inv->dl_step, inv->dl_result, inv->dl_err))
        goto out; /* what its report said, if that was lost: the inventory keeps it */
    if (!plan_update(u, dev->platform, rec, inv->modules, inv->module_count, false, catalog, &p,
                     code, sizeof code, msg, sizeof msg)) {
        transition(u, rec, "failed", "dependency", msg);
        goto out;
    }
    rec->estimate_only = false;
    enum ald_transfer_state made = choose_transfers(
        u, &p, inv->modules, inv->module_count,
        rec->full_only ? 0 : (uint8_t)(inv->flags & (AL_INV_STREAMS | AL_INV_SLOTS)), x);
    if (made == ALD_TRANSFER_ERROR) {
        ald_log(ALD_LOG_ERROR, "cannot prepare the transfers of a plan", "device", dev->name, NULL);
        plan->status = AL_PLAN_WAIT; /* storage trouble: ask again later */
        plan->poll_s = 60;
        goto out;
    }
    if (made != ALD_TRANSFER_READY) {
        /* A patch or compressed image is being made (or waits for room in the queue): the
         * device comes back for it rather than take the full image now (docs/protocol.md,
         * "Transfers being made"). */
        char secs[8];
        plan->status = AL_PLAN_WAIT;
        plan->poll_s = made == ALD_TRANSFER_BUSY ? POLL_BUSY_S : making_seconds(&p, x);
        snprintf(secs, sizeof secs, "%u", (unsigned)plan->poll_s);
        if (made == ALD_TRANSFER_BUSY)
            ald_log(ALD_LOG_WARN, "the encoding queue is full: the device comes back later",
                    "device", dev->name, "poll_s", secs, NULL);
        else
            ald_log(ALD_LOG_INFO, "a transfer is being made: the device comes back", "device",
                    dev->name, "poll_s", secs, NULL);
        goto out;
    }
    if (p.step_count == 0) {
        set_steps(rec, &p, x, inv->modules, inv->module_count, "pending");
        rec->offset = 0;
        if (inv->boot_state == AL_BOOT_TRIAL)
            transition(u, rec, "confirming", NULL, NULL);
        else
            transition(u, rec, "succeeded", al_result_name(AL_RESULT_SUCCESS), "");
        goto out;
    }
    plan->status = AL_PLAN_UPDATE;
    plan->plan_id = plan_id_of(rec->id, &p, x);
    plan->step_count = (uint8_t)p.step_count;
    for (size_t s = 0; s < p.step_count; s++) {
        struct al_plan_step *st = &plan->steps[s];
        const struct al_image_header *h = &p.steps[s]->hdr;
        char key[ALD_TRANSFER_KEY_MAX + 1];
        struct blob *b;
        ald_transfer_key(&x->t[s], key);
        if (!(b = blob_get(u, key))) {
            ald_log(ALD_LOG_ERROR, "cannot load a transfer", "device", dev->name, "transfer", key,
                    NULL);
            plan->status = AL_PLAN_WAIT; /* storage trouble: ask again later */
            plan->poll_s = 60;
            plan->step_count = 0;
            goto out;
        }
        st->function = h->function;
        st->index = h->index;
        st->encoding = x->t[s].encoding;
        st->transfer_size = (uint32_t)b->len;
        memcpy(st->transfer_sha256, b->file_sha256, AL_SHA256_SIZE);
        memcpy(st->image_sha256, h->payload_sha256, AL_SHA256_SIZE);
    }
    bool on_trial = inv->boot_state == AL_BOOT_TRIAL;
    set_steps(rec, &p, x, inv->modules, inv->module_count, on_trial ? "installing" : "downloading");
    rec->plan_id = plan->plan_id;
    rec->step = 0;
    rec->offset = inv->dl_plan_id == plan->plan_id && inv->dl_step == 0 ? inv->dl_offset : 0;
    /* On trial, the device confirms first (it reached us) and reports again. */
    transition(u, rec, on_trial ? "confirming" : "downloading", NULL, NULL);
out:
    free(catalog);
    free(x);
}

/* issue 11 (checkin): the device of a PSK identity (or its tombstone) read from the store,
 * and kept for the rest of its session (devcache.h): its id, else 0. */
static int64_t device_read(struct ald_updates *u, const char *identity,
                           struct ald_device_rec *dev)
{
    uint64_t stamp = ald_devcache_stamp(); /* before the read: a change racing it wins */
    if (!identity[0] || u->st->ops->device_by_identity(u->st, identity, dev) != ALD_STORE_OK)
        return 0;
    ald_devcache_put(u->sessions, dev, stamp);
    return dev->id;
}

/* The device of a PSK identity, or the tombstone of a removed one: its id, else 0. Within
 * a session, from the session's row (devcache.h; the inventory is not in it). */
static int64_t device_or_tombstone(struct ald_updates *u, const char *identity,
                                   struct ald_device_rec *dev)
{
    return ald_devcache_get(u->sessions, identity, dev) ? dev->id
                                                        : device_read(u, identity, dev);
}

/* The live device of a PSK identity: its id, else 0 (a removed or disabled device is no
 * device). */
static int64_t device_by_identity(struct ald_updates *u, const char *identity,
                                  struct ald_device_rec *dev)
{
    return device_or_tombstone(u, identity, dev) && !dev->removed_at && !dev->disabled
               ? dev->id : 0;
}

static int on_psk_lookup(void *ctx, const char *identity, uint8_t key[ALD_PSK_MAX])
{
    struct ald_updates *u = ctx;
    struct ald_device_rec *dev = malloc(sizeof *dev);
    int n = -1;
    /* A removed device's key is kept: its handshake completes and its inventory is told
     * it was removed (4.03), so it backs off instead of retrying a failed handshake. A new
     * handshake always reads the store (issue 11: the session's row starts here). */
    bool refused = false; /* issue 14 (creds): disabled, or no PSK device */
    if (dev && device_read(u, identity, dev)) {
        if (dev->disabled || !dev->psk_len) {
            refused = true;
            ald_log(ALD_LOG_WARN, "DTLS handshake refused", "device", dev->name, "reason",
                    dev->disabled ? "the device is disabled" : "the device has no PSK",
                    NULL);
        } else {
            memcpy(key, dev->psk, dev->psk_len);
            n = (int)dev->psk_len;
        }
    }
    if (n < 0 && !refused)
        ald_log(ALD_LOG_WARN, "DTLS handshake from an unknown identity", "identity", identity,
                NULL);
    if (dev)
        memset(dev->psk, 0, sizeof dev->psk);
    free(dev);
    return n;
}

/* issue 14 (creds): a certificate's key: its live, enabled x509 device, or why not. A
 * removed or disabled device is refused at the handshake (revocation). */
static int on_cert_lookup(void *ctx, const char *fingerprint, const char *subject,
                          const char *failure)
{
    struct ald_updates *u = ctx;
    struct ald_device_rec *dev = malloc(sizeof *dev);
    int rc = ALD_CERT_UNKNOWN;
    /* issue 14 (rpk): subject NULL: a raw public key, which only an rpk device may use */
    const char *kind = subject ? "x509" : "rpk";
    const char *why = failure ? failure
                      : subject ? "no device has this certificate's key"
                                : "no device has this raw public key";
    if (dev && device_read(u, fingerprint, dev) && !strcmp(dev->credential, kind) &&
        !failure) {
        rc = dev->removed_at || dev->disabled ? ALD_CERT_REVOKED : ALD_CERT_OK;
        why = dev->removed_at ? "the device was removed" : "the device is disabled";
    }
    if (rc != ALD_CERT_OK)
        ald_log(ALD_LOG_WARN, "DTLS handshake refused", "reason", why, "fingerprint",
                fingerprint, "subject", subject ? subject : "", "device",
                rc == ALD_CERT_REVOKED ? dev->name : "", NULL);
    free(dev);
    return rc;
}

static int on_inventory(void *ctx, const char *identity, const uint8_t *msg, size_t len,
                        uint8_t *out, size_t cap, size_t *out_len)
{
    struct ald_updates *u = ctx;
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_update_rec *rec = malloc(sizeof *rec);
    struct al_inventory inv;
    struct al_plan plan;
    int code = 160; /* 5.00 */
    memset(&plan, 0, sizeof plan);
    if (!dev || !rec)
        goto out;
    if (!device_or_tombstone(u, identity, dev)) {
        code = 129; /* 4.01: no such device (plain CoAP without an identity lands here) */
        goto out;
    }
    if (dev->removed_at) {
        char ago[24];
        snprintf(ago, sizeof ago, "%lld", (long long)((ald_now_ms() - dev->removed_at) / 1000));
        ald_log(ALD_LOG_INFO, "a removed device checked in: told so (4.03)", "identity",
                identity, "removed_s_ago", ago, NULL);
        code = ALD_COAP_REMOVED;
        goto out;
    }
    if (dev->disabled) { /* issue 14: disabled within a session opened before (devcache.h) */
        ald_log(ALD_LOG_INFO, "a disabled device checked in: refused (4.03)", "device",
                dev->name, NULL);
        code = ALD_COAP_REMOVED;
        goto out;
    }
    if (al_inventory_decode(msg, len, &inv) != AL_OK) {
        ald_log(ALD_LOG_WARN, "malformed inventory", "device", dev->name, NULL);
        code = 128;
        goto out;
    }
    /* Its reason is the device's own text, any bytes but NUL: JSON (the inventory kept, the
     * revert's why) takes UTF-8 only, and json_pack would fail on every check-in. */
    ald_utf8_scrub(inv.reason);
    json_t *j = ald_inventory_json(&inv);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    /* A check-in's writes, atomic: the inventory and when the device is back. */
    int64_t now = ald_now_ms();
    int64_t next = (inv.flags & AL_INV_SLEEPY) && inv.next_checkin_s
                       ? now + 1000 * (int64_t)inv.next_checkin_s : 0;
    enum ald_store_rc src = !text ? ALD_STORE_ERROR
                                  : u->st->ops->device_report(u->st, dev->name, text, now, next);
    free(text);
    if (src != ALD_STORE_OK) {
        if (src == ALD_STORE_UNAVAILABLE)
            code = 163; /* 5.03: the database is away; the device tries again later */
        goto out;
    }
    pthread_mutex_lock(&u->lock);
    if (u->st->ops->update_active(u->st, dev->id, rec) == ALD_STORE_OK)
        advance(u, dev, rec, &inv, &plan);
    pthread_mutex_unlock(&u->lock);
    code = al_plan_encode(&plan, out, cap, out_len) == AL_OK ? 68 : 160;
out:
    free(dev);
    free(rec);
    return code;
}

static int on_status(void *ctx, const char *identity, const uint8_t *msg, size_t len)
{
    struct ald_updates *u = ctx;
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_update_rec *rec = malloc(sizeof *rec);
    struct al_status s;
    int code = 160;
    if (!dev || !rec)
        goto out;
    if (!device_by_identity(u, identity, dev)) {
        code = 129;
        goto out;
    }
    if (al_status_decode(msg, len, &s) != AL_OK) {
        ald_log(ALD_LOG_WARN, "malformed status report", "device", dev->name, NULL);
        code = 128;
        goto out;
    }
    code = 68;
    pthread_mutex_lock(&u->lock);
    if (u->st->ops->update_active(u->st, dev->id, rec) == ALD_STORE_OK &&
        rec->plan_id == s.plan_id) {
        rec->step = s.step;
        rec->offset = s.offset;
        switch (s.state) {
        case AL_STATE_DOWNLOADING:
            transition(u, rec, "downloading", NULL, NULL);
            break;
        case AL_STATE_DOWNLOADED:
        case AL_STATE_VERIFYING:
            transition(u, rec, "verifying", NULL, NULL);
            break;
        case AL_STATE_INSTALLING:
            transition(u, rec, "installing", NULL, NULL);
            break;
        case AL_STATE_FAILED:
            (void)step_failure(u, rec, s.step, s.result, s.err);
            break;
        default:
            break;
        }
    }
    pthread_mutex_unlock(&u->lock);
out:
    free(dev);
    free(rec);
    return code;
}

static const uint8_t *on_transfer(void *ctx, const char *identity, uint32_t plan_id,
                                  uint8_t step, uint32_t offset, uint32_t end, size_t *len)
{
    struct ald_updates *u = ctx;
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_update_rec *rec = malloc(sizeof *rec);
    const uint8_t *data = NULL;
    if (!dev || !rec || !device_by_identity(u, identity, dev))
        goto out;
    pthread_mutex_lock(&u->lock);
    if (u->st->ops->update_active(u->st, dev->id, rec) == ALD_STORE_OK &&
        rec->plan_id == plan_id) {
        json_t *steps = json_loads(rec->steps_json, 0, NULL), *s = plan_step(steps, step);
        const char *key = s ? json_string_value(json_object_get(s, "transfer")) : NULL;
        struct blob *b = key ? blob_get(u, key) : NULL;
        if (b && offset < b->len) {
            b->refs++;
            data = b->data;
            *len = b->len;
            /* The device asked for these bytes: it is downloading, and once the last byte
             * is on its way, verifying (a device that lost some asks again: downloading). */
            if (end > b->len)
                end = (uint32_t)b->len;
            const char *state = end == b->len ? "verifying" : "downloading";
            bool persist = end / PROGRESS_EVERY != offset / PROGRESS_EVERY ||
                           strcmp(rec->state, state) != 0 || rec->step != step;
            if (rec->step != step || end > rec->offset)
                rec->offset = end; /* progress never goes back: a lost chunk asked again */
            rec->step = step;
            if (persist)
                transition(u, rec, state, NULL, NULL);
        }
        json_decref(steps);
    }
    pthread_mutex_unlock(&u->lock);
out:
    free(dev);
    free(rec);
    return data;
}

static void on_release(void *ctx, const uint8_t *ptr)
{
    struct ald_updates *u = ctx;
    pthread_mutex_lock(&u->lock);
    for (int i = 0; i < BLOB_CACHE; i++)
        if (u->blobs[i].data == ptr && u->blobs[i].refs)
            u->blobs[i].refs--;
    pthread_mutex_unlock(&u->lock);
}

static void on_account(void *ctx, const char *identity, uint64_t tx, uint64_t rx, bool ended,
                       uint64_t quiet_ms)
{
    struct ald_updates *u = ctx;
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_update_rec *rec = malloc(sizeof *rec);
    if (!dev || !rec || !device_by_identity(u, identity, dev))
        goto out;
    pthread_mutex_lock(&u->lock);
    bool active = u->st->ops->update_active(u->st, dev->id, rec) == ALD_STORE_OK;
    u->st->ops->device_seen(u->st, dev->id, ald_now_ms() - (int64_t)quiet_ms, tx, rx,
                            active ? rec->id : 0);
    if (active && ended && !strcmp(rec->state, "installing"))
        transition(u, rec, "rebooting", NULL, NULL); /* it left to reset into the new image */
    pthread_mutex_unlock(&u->lock);
out:
    if (ended)
        ald_devcache_drop(u->sessions, identity); /* issue 11: the session is over */
    free(dev);
    free(rec);
}

/* issue 16 (speed): see device_ops.h, queued. */
static size_t on_queued(void *ctx, uint64_t *cursor, char (*ids)[ALD_IDENTITY_MAX + 1], size_t max)
{
    struct ald_updates *u = ctx;
    size_t n = 0;
    pthread_mutex_lock(&u->lock);
    if (u->queued_count - *cursor > ALD_QUEUED_KEEP)
        *cursor = u->queued_count - ALD_QUEUED_KEEP;
    for (; *cursor < u->queued_count && n < max; (*cursor)++)
        snprintf(ids[n++], ALD_IDENTITY_MAX + 1, "%s", u->queued_ids[*cursor % ALD_QUEUED_KEEP]);
    pthread_mutex_unlock(&u->lock);
    return n;
}

struct ald_device_ops ald_updates_device_ops(struct ald_updates *u)
{
    struct ald_device_ops ops = {u,         on_psk_lookup, on_cert_lookup, on_inventory, on_status,
                                 on_transfer, on_release,  on_account,     on_queued};
    return ops;
}

/* ---- the API's side ---- */

/* Check the requested hashes: lowercase hex, no repeats. */
static bool wanted_json_of(const char *const *sha, size_t n, char *out, size_t cap, char *msg,
                           size_t msglen)
{
    json_t *arr = json_array();
    bool ok = n >= 1 && n <= ALD_PLAN_MAX_STEPS;
    if (!ok)
        snprintf(msg, msglen, "images: give 1 to %d image hashes", ALD_PLAN_MAX_STEPS);
    for (size_t i = 0; ok && i < n; i++) {
        ok = alc_is_lower_hex(sha[i], ALD_SHA256_HEX);
        for (size_t k = 0; ok && k < i; k++)
            ok = strcmp(sha[i], sha[k]) != 0;
        if (!ok)
            snprintf(msg, msglen, "images[%zu]: not 64 lowercase hex digits, or given twice", i);
        else
            json_array_append_new(arr, json_string(sha[i]));
    }
    char *text = ok ? json_dumps(arr, JSON_COMPACT) : NULL;
    ok = text && strlen(text) < cap;
    if (ok)
        memcpy(out, text, strlen(text) + 1);
    free(text);
    json_decref(arr);
    return ok;
}

/* What queueing came to, inside ald_updates_queue. */
enum queue_rc {
    ALD_QUEUE_QUEUED = 0,      /* *out is the new update (or what it would be, dry run) */
    ALD_QUEUE_UP_TO_DATE = 1,  /* the device runs all of it: nothing queued */
    ALD_QUEUE_NO_DEVICE = 2,   /* msg names it */
    ALD_QUEUE_BAD_REQUEST = 3, /* msg says what (e.g. two images for one module) */
    ALD_QUEUE_UNKNOWN_IMAGE = 4, /* code is the hash not held */
    ALD_QUEUE_PLAN_ERROR = 5,  /* code: planner reason name; msg: what is missing */
    ALD_QUEUE_ERROR = 6,       /* storage failed, or the images cannot be read */
    ALD_QUEUE_WRONG_KIND = 7,  /* issue 14 (ddi): .swu and device kinds mixed; msg says how */
};

/* The result of queueing: rc, with the planner's code and msg. */
static struct ald_result queue_result(enum queue_rc rc, const char *code, const char *msg)
{
    switch (rc) {
    case ALD_QUEUE_QUEUED:
    case ALD_QUEUE_UP_TO_DATE:
        return ald_ok();
    case ALD_QUEUE_NO_DEVICE:
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "%s", msg);
    case ALD_QUEUE_BAD_REQUEST:
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "%s", msg);
    case ALD_QUEUE_UNKNOWN_IMAGE:
        return ald_with_detail(ald_fail(ALD_ERR_UNPROCESSABLE, "unknown_image", "%s", msg), code);
    case ALD_QUEUE_PLAN_ERROR:
        return ald_with_detail(ald_fail(ALD_ERR_UNPROCESSABLE, "plan_error", "%s", msg), code);
    case ALD_QUEUE_WRONG_KIND:
        return ald_fail(ALD_ERR_UNPROCESSABLE, "wrong_kind", "%s", msg);
    default:
        return ald_store_failed(ALD_STORE_ERROR);
    }
}

void ald_update_origin(const struct ald_update_rec *rec, char *out, size_t cap)
{
    if (rec->rollout_id)
        snprintf(out, cap, "rollout %lld", (long long)rec->rollout_id);
    else
        snprintf(out, cap, "%s", rec->queued_by[0] ? rec->queued_by : "a user");
}

/* The refusal of a request while update `active` runs (its copy in *keep, if asked). */
static struct ald_result busy_result(const struct ald_update_rec *active, const char *device,
                                     struct ald_update_rec *keep)
{
    char origin[ALD_NAME_MAX + 32];
    ald_update_origin(active, origin, sizeof origin);
    if (keep)
        *keep = *active;
    return ald_fail(ALD_ERR_CONFLICT, "active_update",
                    "%s has an active update: #%lld (%s, queued by %s); replace it or cancel "
                    "it first", device, (long long)active->id, active->state, origin);
}

/* Cancel `old` because update `by_id` replaces it (0: nothing was queued, the device runs
 * what was asked for already). Called with u->lock held. */
static void cancel_replaced(struct ald_updates *u, struct ald_update_rec *old, int64_t by_id,
                            const char *by)
{
    char why[ALD_WHY_MAX + 1];
    if (by_id)
        snprintf(why, sizeof why, "replaced by update %lld (queued by %s)", (long long)by_id, by);
    else
        snprintf(why, sizeof why, "replaced by a request of %s for images the device runs "
                 "already", by);
    transition_ex(u, old, "cancelled", al_result_name(AL_RESULT_CANCELLED), why,
                  json_pack("{s:b, s:o, s:s}", "replaced", 1, "replaced_by",
                            by_id ? json_integer(by_id) : json_null(), "by", by));
}

/* A new update queued, and the one it replaces (if any) cancelled, with both events, in one
 * transaction: the old one is saved final first (the unique active index), then the new one
 * is made, then the old one's why names it. Each run starts from old_rev. */
struct queue_tx {
    struct ald_update_rec *old; /* NULL: nothing replaced */
    int64_t old_rev;
    struct ald_update_rec *out;
    const char *by, *queued_data, *device;
    int64_t rollout_id;
};

static enum ald_store_rc queue_in_txn(struct ald_store *tx, void *ctx)
{
    struct queue_tx *q = ctx;
    enum ald_store_rc rc;
    if (q->old) {
        q->old->rev = q->old_rev;
        snprintf(q->old->why, sizeof q->old->why, "replaced by a newer update (queued by %s)", q->by);
        if ((rc = tx->ops->update_save(tx, q->old)) != ALD_STORE_OK)
            return rc;
    }
    if ((rc = tx->ops->update_create(tx, q->out)) != ALD_STORE_OK)
        return rc;
    if (q->old) {
        snprintf(q->old->why, sizeof q->old->why, "replaced by update %lld (queued by %s)",
                 (long long)q->out->id, q->by);
        if ((rc = tx->ops->update_save(tx, q->old)) != ALD_STORE_OK)
            return rc;
        json_t *extra = json_pack("{s:b, s:I, s:s}", "replaced", 1, "replaced_by",
                                  (json_int_t)q->out->id, "by", q->by);
        char *text = state_event_text(q->old, extra);
        json_decref(extra);
        rc = text ? ald_event_emit_rollout(tx, "update.cancelled", q->old->device, q->old->id,
                                           q->old->rollout_id, text)
                  : ALD_STORE_ERROR;
        free(text);
        if (rc != ALD_STORE_OK)
            return rc;
    }
    return ald_event_emit_rollout(tx, "update.queued", q->device, q->out->id, q->rollout_id,
                                  q->queued_data);
}

/* ---- issue 14 (ddi): updates of linux devices to one .swu image (docs/ddi.md) ---- */

/*
 * If the update concerns .swu images or a linux device, plan it here: one step, the whole
 * .swu file, sent by DDI (*steps 1, or 0 when the device reports running that image
 * already). Returns -1 for an ordinary update (the planner's), else a queue_rc: QUEUED,
 * WRONG_KIND or BAD_REQUEST (msg says why), ERROR.
 */
static int plan_swu(struct ald_updates *u, const struct ald_device_rec *dev,
                    struct ald_update_rec *out, size_t *steps, char *msg, size_t msglen)
{
    json_t *ids = json_loads(out->wanted_json, 0, NULL), *v;
    struct ald_image_rec *img = malloc(sizeof *img), first;
    size_t i, nswu = 0, n = json_array_size(ids);
    int rc = ALD_QUEUE_ERROR;
    bool linux_dev = dev->platform == ALC_PLATFORM_LINUX;
    memset(&first, 0, sizeof first);
    if (!ids || !img)
        goto out;
    json_array_foreach(ids, i, v) {
        if (u->st->ops->image_get_id(u->st, json_string_value(v), img) != ALD_STORE_OK)
            goto out;
        if (ald_swu_image(img) && nswu++ == 0)
            first = *img;
    }
    if (!nswu && !linux_dev) {
        rc = -1;
        goto out;
    }
    rc = ALD_QUEUE_WRONG_KIND;
    if (!linux_dev) {
        snprintf(msg, msglen, "image %s is a .swu file, for devices of platform linux (DDI); "
                 "device '%s' is platform %u", first.id, dev->name, (unsigned)dev->platform);
        goto out;
    }
    if (nswu != n) {
        snprintf(msg, msglen, "device '%s' is platform linux: it takes .swu images only, "
                 "not airlift images", dev->name);
        goto out;
    }
    if (n != 1) {
        rc = ALD_QUEUE_BAD_REQUEST;
        snprintf(msg, msglen, "device '%s' is platform linux: give exactly one .swu image",
                 dev->name);
        goto out;
    }
    json_t *inv = json_loads(dev->inventory, 0, NULL);
    const char *runs_id = json_string_value(json_object_get(json_object_get(inv, "swu"),
                                                            "image"));
    *steps = runs_id && !strcmp(runs_id, first.id) ? 0 : 1;
    json_decref(inv);
    json_t *arr = json_pack("[{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}]", "kind", "swu", "image",
                            first.id, "sha256", first.sha256, "version", first.version, "size",
                            (json_int_t)first.file_size, "image_size",
                            (json_int_t)first.file_size, "encoding", "full", "state", "pending");
    char *text = *steps ? json_dumps(arr, JSON_COMPACT) : NULL;
    if (text && strlen(text) < sizeof out->steps_json)
        memcpy(out->steps_json, text, strlen(text) + 1);
    free(text);
    json_decref(arr);
    out->estimate_only = false;
    out->done_bytes = 0;
    out->total_bytes = *steps ? first.file_size : 0;
    out->wire_estimate = *steps ? ald_wire_estimate(first.file_size) : 0;
    rc = ALD_QUEUE_QUEUED;
out:
    json_decref(ids);
    free(img);
    return rc;
}

struct ald_result ald_updates_ddi_report(struct ald_updates *u, int64_t update_id,
                                         const char *state, const char *why, uint64_t offset,
                                         struct ald_update_rec *out)
{
    struct ald_result res = ald_ok();
    pthread_mutex_lock(&u->lock);
    enum ald_store_rc src = u->st->ops->update_get(u->st, update_id, out);
    if (src == ALD_STORE_NOT_FOUND)
        res = ald_fail(ALD_ERR_NOT_FOUND, "not_found", "update '%lld' does not exist",
                       (long long)update_id);
    else if (src != ALD_STORE_OK)
        res = ald_store_failed(src);
    else if (ald_update_state_final(out->state))
        res = ald_fail(ALD_ERR_CONFLICT, "final", "update %lld already ended (%s)",
                       (long long)update_id, out->state);
    else {
        const char *result = NULL;
        if (!strcmp(state, "succeeded"))
            result = al_result_name(AL_RESULT_SUCCESS);
        else if (!strcmp(state, "failed"))
            result = al_result_name(AL_RESULT_UPDATE_FAILED);
        else if (!strcmp(state, "cancelled"))
            result = al_result_name(AL_RESULT_CANCELLED);
        if (offset > out->offset)
            out->offset = (uint32_t)(offset > UINT32_MAX ? UINT32_MAX : offset);
        if (!strcmp(state, "succeeded")) {
            out->done_bytes = out->total_bytes;
            json_t *steps = json_loads(out->steps_json, 0, NULL), *st;
            size_t i;
            json_array_foreach(steps, i, st)
                json_object_set_new(st, "state", json_string("done"));
            char *text = steps ? json_dumps(steps, JSON_COMPACT) : NULL;
            if (text && strlen(text) < sizeof out->steps_json)
                memcpy(out->steps_json, text, strlen(text) + 1);
            free(text);
            json_decref(steps);
        }
        transition(u, out, state, result, why);
    }
    pthread_mutex_unlock(&u->lock);
    return res;
}

struct ald_result ald_updates_queue(struct ald_updates *u, const char *device,
                                    const char *const *sha256, size_t n, bool dry_run,
                                    struct ald_update_rec *out, int64_t rollout_id)
{
    struct ald_queue_opts o = {dry_run, true, NULL, rollout_id};
    return ald_updates_queue_opts(u, device, sha256, n, &o, out, NULL);
}

struct ald_result ald_updates_queue_opts(struct ald_updates *u, const char *device,
                                         const char *const *sha256, size_t n,
                                         const struct ald_queue_opts *opts,
                                         struct ald_update_rec *out,
                                         struct ald_update_rec *active)
{
    const bool dry_run = opts->dry_run;
    const int64_t rollout_id = opts->rollout_id;
    char code[80], msg[ALD_WHY_MAX + 1], by[ALD_NAME_MAX + 32];
    bool has_old = false;
    struct ald_result busy = ald_ok();
    const size_t codelen = sizeof code, msglen = sizeof msg;
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_image *catalog = malloc(CATALOG_MAX * sizeof *catalog);
    struct al_module_status mods[AL_MAX_MODULES];
    struct ald_plan_result p;
    struct ald_update_rec *old = malloc(sizeof *old);
    struct plan_transfers *x = malloc(sizeof *x);
    enum queue_rc rc = ALD_QUEUE_ERROR;
    size_t nmods = 0;
    uint8_t decodes = 0;
    code[0] = msg[0] = '\0';
    memset(out, 0, sizeof *out);
    if (!dev || !catalog || !old || !x)
        goto out;
    enum ald_store_rc src = u->st->ops->device_get(u->st, device, dev);
    if (src != ALD_STORE_OK) {
        rc = src == ALD_STORE_NOT_FOUND ? ALD_QUEUE_NO_DEVICE : ALD_QUEUE_ERROR;
        snprintf(msg, msglen, "device '%s' does not exist", device);
        goto out;
    }
    out->device_id = dev->id;
    out->rollout_id = rollout_id;
    snprintf(out->queued_by, sizeof out->queued_by, "%s", opts->by && !rollout_id ? opts->by : "");
    ald_update_origin(out, by, sizeof by);
    snprintf(out->device, sizeof out->device, "%s", dev->name);
    snprintf(out->state, sizeof out->state, "queued");
    snprintf(out->steps_json, sizeof out->steps_json, "[]");
    if (!wanted_json_of(sha256, n, out->wanted_json, sizeof out->wanted_json, msg, msglen)) {
        rc = ALD_QUEUE_BAD_REQUEST;
        goto out;
    }
    /* Each image by its id, or by a payload hash exactly one held image has (images.h). */
    for (size_t i = 0; i < n; i++) {
        struct ald_image_rec *img = (struct ald_image_rec *)catalog; /* scratch */
        struct ald_result found = ald_image_resolve(u->st, sha256[i], img);
        if (found.code == ALD_ERR_NOT_FOUND) {
            snprintf(code, codelen, "%s", sha256[i]);
            snprintf(msg, msglen, "the server holds no image %s: upload it first", sha256[i]);
            rc = ALD_QUEUE_UNKNOWN_IMAGE;
            goto out;
        }
        if (!ald_is_ok(&found)) {
            free(dev);
            free(catalog);
            free(old);
            free(x);
            return found; /* several images of that payload (409), or storage */
        }
    }
    {
        struct ald_result ids = ald_image_resolve_list(u->st, sha256, n, out->wanted_json,
                                                       sizeof out->wanted_json);
        if (!ald_is_ok(&ids)) {
            free(dev);
            free(catalog);
            free(old);
            free(x);
            return ids;
        }
    }
    /* What is under way counts as much as what runs: a device with an active update is
     * busy, whatever the new request would send (docs/api.md, "Updates"). */
    has_old = u->st->ops->update_active(u->st, dev->id, old) == ALD_STORE_OK;
    if (has_old && !opts->replace) {
        busy = busy_result(old, device, active);
        goto out;
    }
    size_t nsteps = 0; /* issue 14 (ddi) */
    int swu_rc = plan_swu(u, dev, out, &nsteps, msg, msglen);
    if (swu_rc > 0) {
        rc = (enum queue_rc)swu_rc;
        goto out;
    }
    if (swu_rc == 0)
        goto planned;
    out->estimate_only = !dev->inventory[0];
    if (dev->inventory[0] && !modules_from_json(dev->inventory, mods, &nmods, &decodes)) {
        snprintf(msg, msglen, "the device's last inventory cannot be read");
        goto out;
    }
    if (!plan_update(u, dev->platform, out, mods, nmods, out->estimate_only, catalog, &p, code,
                     codelen, msg, msglen)) {
        rc = !strcmp(code, "internal") ? ALD_QUEUE_ERROR
             : alc_is_lower_hex(code, ALD_SHA256_HEX) ? ALD_QUEUE_UNKNOWN_IMAGE
                                                       : ALD_QUEUE_PLAN_ERROR;
        goto out;
    }
    if (choose_transfers_api(u, &p, mods, nmods, decodes, x) == ALD_TRANSFER_ERROR) {
        snprintf(code, codelen, "internal");
        snprintf(msg, msglen, "cannot read or encode the images");
        goto out;
    }
    set_steps(out, &p, x, mods, nmods, "pending");
    nsteps = p.step_count;
planned:
    rc = nsteps == 0 ? ALD_QUEUE_UP_TO_DATE : ALD_QUEUE_QUEUED;
    if (nsteps == 0)
        snprintf(out->state, sizeof out->state, "up_to_date");
    /* Nothing to send: a user's request still replaces what is under way (the device would
     * not end where asked otherwise); a rollout's leaves it. */
    if (dry_run || (rc == ALD_QUEUE_UP_TO_DATE && (!has_old || rollout_id)))
        goto out;
    pthread_mutex_lock(&u->lock);
    /* Again under the lock: an update queued meanwhile is as busy as one seen before. */
    has_old = u->st->ops->update_active(u->st, dev->id, old) == ALD_STORE_OK;
    if (has_old && !opts->replace) {
        pthread_mutex_unlock(&u->lock);
        busy = busy_result(old, device, active);
        goto out;
    }
    if (rc == ALD_QUEUE_UP_TO_DATE) {
        if (has_old) /* replaced by nothing: the device runs what was asked for */
            cancel_replaced(u, old, 0, by);
        pthread_mutex_unlock(&u->lock);
        goto out;
    }
    if (has_old) { /* the unique active index needs it final first; the event names both */
        snprintf(old->state, sizeof old->state, "cancelled");
        snprintf(old->result, sizeof old->result, "%s", al_result_name(AL_RESULT_CANCELLED));
        old->finished_at = old->updated_at = ald_now_ms();
    }
    {
        json_t *data = json_pack("{s:I, s:I}", "steps", (json_int_t)nsteps,
                                 "wire_estimate", (json_int_t)out->wire_estimate);
        char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
        struct queue_tx q = {has_old ? old : NULL, has_old ? old->rev : 0, out, by, text,
                             dev->name, rollout_id};
        if (!text || ald_store_txn(u->st, queue_in_txn, &q) != ALD_STORE_OK) {
            if (has_old)
                old->rev = q.old_rev;
            rc = ALD_QUEUE_ERROR;
        } else {
            if (has_old)
                ald_log(ALD_LOG_INFO, "update", "device", old->device, "state", "cancelled",
                        "why", old->why, NULL);
            snprintf(u->queued_ids[u->queued_count++ % ALD_QUEUED_KEEP], ALD_IDENTITY_MAX + 1,
                     "%s", dev->identity); /* issue 16 (speed): for on_queued */
            ald_log(ALD_LOG_INFO, "update queued", "device", dev->name, "by", by, NULL);
        }
        free(text);
        json_decref(data);
    }
    pthread_mutex_unlock(&u->lock);
out:
    free(dev);
    free(catalog);
    free(old);
    free(x);
    if (!ald_is_ok(&busy))
        return busy;
    return queue_result(rc, code, msg);
}

struct ald_result ald_updates_remove_device(struct ald_updates *u, const char *name, bool force,
                                            const char *by, struct ald_update_rec *active)
{
    struct ald_device_rec *dev = malloc(sizeof *dev);
    struct ald_update_rec *rec = malloc(sizeof *rec);
    struct ald_result res = dev && rec ? ald_device_get(u->st, name, dev)
                                       : ald_store_failed(ALD_STORE_ERROR);
    if (!ald_is_ok(&res))
        goto out;
    pthread_mutex_lock(&u->lock); /* no update is queued between the check and the removal */
    if (u->st->ops->update_active(u->st, dev->id, rec) == ALD_STORE_OK) {
        char origin[ALD_NAME_MAX + 32], why[ALD_WHY_MAX + 1];
        ald_update_origin(rec, origin, sizeof origin);
        if (!force) {
            res = ald_fail(ALD_ERR_CONFLICT, "active_update",
                           "%s has an active update: #%lld (%s, queued by %s); remove it with "
                           "force to cancel it", name, (long long)rec->id, rec->state, origin);
            if (active)
                *active = *rec;
        } else {
            snprintf(why, sizeof why, "the device was removed (by %s)", by ? by : "a user");
            transition_ex(u, rec, "cancelled", al_result_name(AL_RESULT_CANCELLED), why,
                          json_pack("{s:b, s:s}", "removed", 1, "by", by ? by : ""));
        }
    }
    if (ald_is_ok(&res))
        res = ald_device_delete(u->st, name, by);
    pthread_mutex_unlock(&u->lock);
out:
    if (dev)
        memset(dev->psk, 0, sizeof dev->psk);
    free(dev);
    free(rec);
    return res;
}

struct ald_result ald_updates_cancel(struct ald_updates *u, int64_t id,
                                     struct ald_update_rec *out)
{
    struct ald_result res = ald_ok();
    pthread_mutex_lock(&u->lock);
    enum ald_store_rc src = u->st->ops->update_get(u->st, id, out);
    if (src == ALD_STORE_NOT_FOUND)
        res = ald_fail(ALD_ERR_NOT_FOUND, "not_found", "update '%lld' does not exist",
                       (long long)id);
    else if (src != ALD_STORE_OK)
        res = ald_store_failed(src);
    else if (ald_update_state_final(out->state))
        res = ald_fail(ALD_ERR_CONFLICT, "final", "update %lld already ended (%s)", (long long)id,
                       out->state);
    else
        transition(u, out, "cancelled", al_result_name(AL_RESULT_CANCELLED), "cancelled by a user");
    pthread_mutex_unlock(&u->lock);
    return res;
}

json_t *ald_time_json(int64_t ms)
{
    char text[40];
    if (!ms)
        return json_null();
    ald_format_time(ms, text, sizeof text);
    return json_string(text);
}

static bool online(const struct ald_device_rec *dev)
{
    return dev->last_seen_at && ald_now_ms() - dev->last_seen_at < ALD_ONLINE_WINDOW_MS;
}

json_t *ald_update_json(const struct ald_update_rec *r, const struct ald_device_rec *dev)
{
    json_t *steps = json_loads(r->steps_json, 0, NULL), *images = json_loads(r->wanted_json, 0, NULL);
    size_t i, step_count = 0;
    uint64_t step_size = 0;
    json_t *s;
    json_array_foreach(steps, i, s) {
        if (step_done(s))
            continue;
        if (step_count++ == r->step)
            step_size = (uint64_t)json_integer_value(json_object_get(s, "size"));
    }
    bool fin = ald_update_state_final(r->state);
    uint64_t done_steps = json_array_size(steps) - step_count;
    uint64_t bytes = r->done_bytes + (fin || !strcmp(r->state, "confirming") ? 0 : r->offset);
    if (!strcmp(r->state, "succeeded"))
        bytes = r->total_bytes;
    json_t *progress = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "step",
                                 (json_int_t)(done_steps + r->step), "steps",
                                 (json_int_t)json_array_size(steps), "offset", (json_int_t)r->offset,
                                 "size", (json_int_t)step_size, "bytes", (json_int_t)bytes, "total",
                                 (json_int_t)r->total_bytes);
    json_t *o = json_pack("{s:o, s:s, s:s, s:b, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}",
        "id", r->id ? json_integer(r->id) : json_null(), "device", r->device, "state", r->state,
        "final", fin, "images", images ? images : json_array(), "steps", steps ? steps : json_array(),
        "progress", progress, "wire_estimate", (json_int_t)r->wire_estimate, "bytes_sent",
        (json_int_t)r->bytes_tx, "bytes_received", (json_int_t)r->bytes_rx, "result",
        r->result[0] ? json_string(r->result) : json_null(), "why",
        r->why[0] ? json_string(r->why) : json_null(), "created_at", ald_time_json(r->created_at),
        "started_at", ald_time_json(r->started_at), "updated_at", ald_time_json(r->updated_at),
        "finished_at", ald_time_json(r->finished_at));
    if (r->estimate_only)
        json_object_set_new(o, "estimate_only", json_true());
    char origin[ALD_NAME_MAX + 32];
    ald_update_origin(r, origin, sizeof origin);
    json_object_set_new(o, "origin", json_string(origin));
    json_object_set_new(o, "rollout_id", r->rollout_id ? json_integer(r->rollout_id) : json_null());
    json_object_set_new(o, "queued_by", r->queued_by[0] ? json_string(r->queued_by) : json_null());
    if (dev) {
        json_object_set_new(o, "device_online", json_boolean(online(dev)));
        json_object_set_new(o, "device_last_seen_at", ald_time_json(dev->last_seen_at));
        json_object_set_new(o, "device_next_checkin_at",
                            dev->next_checkin_at > ald_now_ms() - ALD_ONLINE_WINDOW_MS
                                ? ald_time_json(dev->next_checkin_at) : json_null());
    }
    return o;
}

void ald_device_live_json(const struct ald_device_rec *dev, json_t *obj)
{
    json_object_set_new(obj, "online", json_boolean(online(dev)));
    json_object_set_new(obj, "next_checkin_at", ald_time_json(dev->next_checkin_at));
    json_object_set_new(obj, "bytes_sent", json_integer((json_int_t)dev->bytes_tx));
    json_object_set_new(obj, "bytes_received", json_integer((json_int_t)dev->bytes_rx));
}

json_t *ald_device_update_json(struct ald_store *st, int64_t device_id)
{
    struct ald_update_rec *rec = malloc(sizeof *rec);
    json_t *o = json_null();
    if (rec && st->ops->update_active(st, device_id, rec) == ALD_STORE_OK)
        o = json_pack("{s:I, s:s}", "id", (json_int_t)rec->id, "state", rec->state);
    free(rec);
    return o;
}
