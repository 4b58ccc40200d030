/*
 * crypto_mbedtls.c - libairlift's crypto port on mbedTLS 2.28: SHA-256 and ECDSA P-256
 * verification, the same library a Cortex-M device would use.
 */
#include "al_host_crypto.h"

#include <mbedtls/ecdsa.h>
#include <mbedtls/sha256.h>

_Static_assert(sizeof(mbedtls_sha256_context) <= AL_SHA256_CTX_MAX,
               "mbedTLS SHA-256 context does not fit libairlift's state buffer");

static void sha256_init(void *state)
{
    mbedtls_sha256_init(state);
    (void)mbedtls_sha256_starts_ret(state, 0);
}

static void sha256_update(void *state, const void *data, size_t len)
{
    (void)mbedtls_sha256_update_ret(state, data, len);
}

static void sha256_final(void *state, uint8_t out[AL_SHA256_SIZE])
{
    (void)mbedtls_sha256_finish_ret(state, out);
    mbedtls_sha256_free(state);
}

static al_err ecdsa_verify(const uint8_t pub[AL_P256_PUBKEY_SIZE], const uint8_t hash[AL_SHA256_SIZE],
                           const uint8_t sig[AL_P256_SIG_SIZE])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    al_err result = AL_ERR_BAD_SIGNATURE;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
        mbedtls_ecp_point_read_binary(&grp, &q, pub, AL_P256_PUBKEY_SIZE) != 0 ||
        mbedtls_ecp_check_pubkey(&grp, &q) != 0 ||
        mbedtls_mpi_read_binary(&r, sig, 32) != 0 || mbedtls_mpi_read_binary(&s, sig + 32, 32) != 0)
        goto out;
    if (mbedtls_ecdsa_verify(&grp, hash, AL_SHA256_SIZE, &q, &r, &s) == 0)
        result = AL_OK;
out:
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return result;
}

static const struct al_crypto host_crypto = {
    .sha256_ctx_size = sizeof(mbedtls_sha256_context),
    .sha256_init = sha256_init,
    .sha256_update = sha256_update,
    .sha256_final = sha256_final,
    .ecdsa_p256_verify = ecdsa_verify,
};

const struct al_crypto *al_host_crypto(void)
{
    return &host_crypto;
}
