/* fleet_crypto.c - see fleet_crypto.h. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co.: a fixed-size context, no heap */
#include "fleet_crypto.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/sha.h>

#include "al_host_crypto.h"

_Static_assert(sizeof(SHA256_CTX) <= AL_SHA256_CTX_MAX,
               "OpenSSL's SHA-256 context does not fit libairlift's state buffer");

#define CACHE_SLOTS 1024 /* distinct (key, image) pairs a fleet verifies: a few per factory */

struct verified {
    bool used;
    uint8_t pub[AL_P256_PUBKEY_SIZE];
    uint8_t hash[AL_SHA256_SIZE];
    uint8_t sig[AL_P256_SIG_SIZE];
};

static struct verified cache[CACHE_SLOTS];
static pthread_rwlock_t cache_lock = PTHREAD_RWLOCK_INITIALIZER;
static atomic_uint_fast64_t remembered, computed;

static void sha256_init(void *state) { SHA256_Init(state); }
static void sha256_update(void *state, const void *data, size_t len) { SHA256_Update(state, data, len); }
static void sha256_final(void *state, uint8_t out[AL_SHA256_SIZE]) { SHA256_Final(out, state); }

static size_t slot_of(const uint8_t hash[AL_SHA256_SIZE], const uint8_t sig[AL_P256_SIG_SIZE])
{
    return ((size_t)hash[0] << 8 | hash[1]) ^ ((size_t)sig[0] << 2 | sig[1]);
}

static bool same(const struct verified *v, const uint8_t *pub, const uint8_t *hash, const uint8_t *sig)
{
    return v->used && memcmp(v->hash, hash, AL_SHA256_SIZE) == 0 &&
           memcmp(v->sig, sig, AL_P256_SIG_SIZE) == 0 && memcmp(v->pub, pub, AL_P256_PUBKEY_SIZE) == 0;
}

static al_err ecdsa_verify(const uint8_t pub[AL_P256_PUBKEY_SIZE], const uint8_t hash[AL_SHA256_SIZE],
                           const uint8_t sig[AL_P256_SIG_SIZE])
{
    size_t slot = slot_of(hash, sig) % CACHE_SLOTS;
    pthread_rwlock_rdlock(&cache_lock);
    bool hit = same(&cache[slot], pub, hash, sig);
    pthread_rwlock_unlock(&cache_lock);
    if (hit) {
        atomic_fetch_add(&remembered, 1);
        return AL_OK;
    }
    atomic_fetch_add(&computed, 1);
    al_err e = al_host_crypto()->ecdsa_p256_verify(pub, hash, sig);
    if (e == AL_OK) { /* only successes are kept: a slot may be overwritten, never wrong */
        pthread_rwlock_wrlock(&cache_lock);
        struct verified *v = &cache[slot];
        v->used = true;
        memcpy(v->pub, pub, AL_P256_PUBKEY_SIZE);
        memcpy(v->hash, hash, AL_SHA256_SIZE);
        memcpy(v->sig, sig, AL_P256_SIG_SIZE);
        pthread_rwlock_unlock(&cache_lock);
    }
    return e;
}

static const struct al_crypto crypto = {
    .sha256_ctx_size = sizeof(SHA256_CTX),
    .sha256_init = sha256_init,
    .sha256_update = sha256_update,
    .sha256_final = sha256_final,
    .ecdsa_p256_verify = ecdsa_verify,
};

const struct al_crypto *fleet_crypto(void) { return &crypto; }

void fleet_crypto_counts(uint64_t *r, uint64_t *c)
{
    *r = atomic_load(&remembered);
    *c = atomic_load(&computed);
}
