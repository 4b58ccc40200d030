/*
 * fleet_crypto.h - libairlift's crypto port for airlift-fleet: the same results as the host
 * port (ports/host, mbedTLS), made cheaper for thousands of devices that verify the same
 * factory images again and again. SHA-256 runs on OpenSSL (SHA extensions where the CPU has
 * them); an ECDSA P-256 verification that succeeded is remembered by (key, hash, signature),
 * so repeating it is a lookup. A verification is a pure function of those three inputs, so
 * the answers are exactly the host port's. Thread-safe.
 */
#ifndef AIRLIFT_SIM_FLEET_CRYPTO_H
#define AIRLIFT_SIM_FLEET_CRYPTO_H

#include <stdint.h>

#include "airlift/port.h"

const struct al_crypto *fleet_crypto(void);
/* Verifications answered from memory, and those computed. */
void fleet_crypto_counts(uint64_t *remembered, uint64_t *computed);

#endif
