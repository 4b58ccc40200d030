/*
 * devcache.h - issue 11 (checkin): the device rows of the device sessions under way.
 *
 * One check-in asked the store for its device's row four times (the PSK callback, the
 * inventory, the accounting after it, the accounting when the session ends), and every
 * transfer request again. The update service (updates.c) keeps the row of each identity
 * it saw here instead: a new DTLS handshake always reads the store (ald_devcache_put after
 * a fresh read), the requests of that session then take the row from the cache, and the
 * session's end drops it.
 *
 * Revocation stays immediate: ald_devcache_invalidate() (every cache of the process
 * forgets every row) is called once a change of a device's row is committed: removal,
 * a fleet change, a new credential. An entry is valid only while no invalidation happened
 * since the store read it was filled from (the stamp, taken before that read, so a read
 * racing a change is never kept), and for at most ttl_ms: with several nodes on one
 * database, a device removed through another node is seen within ttl_ms (a new handshake
 * at once).
 *
 * An entry is the row as read, without its inventory (ald_devcache_get gives "" for it):
 * what a session uses (id, name, psk, platform, removed_at, ...); its counters (last seen,
 * bytes) are those of the read. Thread-safe.
 */
#ifndef AIRLIFTD_DEVCACHE_H
#define AIRLIFTD_DEVCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define ALD_DEVCACHE_SLOTS 4096 /* rows kept at most (a colliding identity replaces one) */
#define ALD_DEVCACHE_TTL_MS 1000

struct ald_devcache;

/* A cache of `slots` rows (rounded up to a power of two), each valid ttl_ms at most. NULL
 * if out of memory (callers then read the store every time). */
struct ald_devcache *ald_devcache_new(size_t slots, unsigned ttl_ms);
void ald_devcache_free(struct ald_devcache *c); /* NULL is a no-op */

/* The generation to stamp a row with: call it before the store read that fills it. */
uint64_t ald_devcache_stamp(void);

/* Keep d (read from the store after `stamp` was taken) for its identity. No-op on NULL. */
void ald_devcache_put(struct ald_devcache *c, const struct ald_device_rec *d, uint64_t stamp);

/* The row kept for identity into out (inventory ""): true if there is one that is still
 * valid, false (out untouched) if not. */
bool ald_devcache_get(struct ald_devcache *c, const char *identity, struct ald_device_rec *out);

/* Forget the row of identity (its session ended). */
void ald_devcache_drop(struct ald_devcache *c, const char *identity);

/* Every cache in the process forgets every row. Call after a change to a device's row is
 * committed (removed, fleet fields, credentials). */
void ald_devcache_invalidate(void);

/* Lookups answered from a cache, and not (expired, invalidated, never kept), since start. */
void ald_devcache_counts(uint64_t *hits, uint64_t *misses);

#endif
