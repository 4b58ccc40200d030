/*
 * devcache.c - see devcache.h. A direct-mapped table: an identity's slot is its hash; a
 * colliding identity takes the slot over. The row is kept without its inventory (the
 * head of struct ald_device_rec before it and the tail after it), a few hundred bytes.
 */
#include "devcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEAD_LEN offsetof(struct ald_device_rec, inventory)
#define TAIL_AT (offsetof(struct ald_device_rec, inventory) + ALD_INVENTORY_MAX)
#define TAIL_LEN (sizeof(struct ald_device_rec) - TAIL_AT)

struct entry {
    bool used;
    uint64_t stamp;   /* the generation before the read it came from */
    int64_t until_ms; /* valid before then (CLOCK_MONOTONIC) */
    unsigned char head[HEAD_LEN];
    unsigned char tail[TAIL_LEN > 0 ? TAIL_LEN : 1];
};

struct ald_devcache {
    pthread_mutex_t lock;
    size_t mask;
    unsigned ttl_ms;
    struct entry *slots;
};

static uint64_t generation = 1; /* bumped by ald_devcache_invalidate; __atomic only */
static uint64_t hits, misses;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a of the identity. */
static size_t slot_of(const struct ald_devcache *c, const char *identity)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)identity; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32)) & c->mask;
}

static const char *identity_of(const struct entry *e)
{
    return (const char *)e->head + offsetof(struct ald_device_rec, identity);
}

struct ald_devcache *ald_devcache_new(size_t slots, unsigned ttl_ms)
{
    struct ald_devcache *c = calloc(1, sizeof *c);
    size_t n = 1;
    while (n < slots && n < ((size_t)1 << 24))
        n <<= 1;
    if (!c || !(c->slots = calloc(n, sizeof *c->slots))) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->mask = n - 1;
    c->ttl_ms = ttl_ms;
    return c;
}

void ald_devcache_free(struct ald_devcache *c)
{
    if (!c)
        return;
    memset(c->slots, 0, (c->mask + 1) * sizeof *c->slots); /* keys are secrets */
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

uint64_t ald_devcache_stamp(void)
{
    return __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

void ald_devcache_invalidate(void)
{
    __atomic_add_fetch(&generation, 1, __ATOMIC_ACQ_REL);
}

void ald_devcache_put(struct ald_devcache *c, const struct ald_device_rec *d, uint64_t stamp)
{
    if (!c || !d->identity[0])
        return;
    pthread_mutex_lock(&c->lock);
    struct entry *e = &c->slots[slot_of(c, d->identity)];
    e->used = true;
    e->stamp = stamp;
    e->until_ms = now_ms() + c->ttl_ms;
    memcpy(e->head, d, HEAD_LEN);
    memcpy(e->tail, (const unsigned char *)d + TAIL_AT, TAIL_LEN);
    pthread_mutex_unlock(&c->lock);
}

bool ald_devcache_get(struct ald_devcache *c, const char *identity, struct ald_device_rec *out)
{
    bool ok = false;
    if (c && identity[0]) {
        uint64_t gen = ald_devcache_stamp();
        int64_t now = now_ms();
        pthread_mutex_lock(&c->lock);
        struct entry *e = &c->slots[slot_of(c, identity)];
        ok = e->used && e->stamp == gen && now < e->until_ms &&
             !strcmp(identity_of(e), identity);
        if (ok) {
            memcpy(out, e->head, HEAD_LEN);
            out->inventory[0] = '\0';
            memcpy((unsigned char *)out + TAIL_AT, e->tail, TAIL_LEN);
        } else if (e->used && !strcmp(identity_of(e), identity)) {
            memset(e, 0, sizeof *e); /* stale: its key goes now */
        }
        pthread_mutex_unlock(&c->lock);
    }
    __atomic_add_fetch(ok ? &hits : &misses, 1, __ATOMIC_RELAXED);
    return ok;
}

void ald_devcache_drop(struct ald_devcache *c, const char *identity)
{
    if (!c || !identity[0])
        return;
    pthread_mutex_lock(&c->lock);
    struct entry *e = &c->slots[slot_of(c, identity)];
    if (e->used && !strcmp(identity_of(e), identity))
        memset(e, 0, sizeof *e);
    pthread_mutex_unlock(&c->lock);
}

void ald_devcache_counts(uint64_t *h, uint64_t *m)
{
    *h = __atomic_load_n(&hits, __ATOMIC_RELAXED);
    *m = __atomic_load_n(&misses, __ATOMIC_RELAXED);
}
