/*
 * al_host_crypto.h - libairlift's crypto port on mbedTLS, for hosts and the simulator.
 */
#ifndef AL_HOST_CRYPTO_H
#define AL_HOST_CRYPTO_H

#include "airlift/port.h"

/* A ready struct al_crypto backed by mbedTLS (SHA-256, ECDSA P-256 verify). */
const struct al_crypto *al_host_crypto(void);

#endif
