/*
 * util.h - small helpers of airliftd: randomness and SHA-256 (OpenSSL), time, whole-file
 * reads. Hex, names and crash-safe file writes are airlift_common's (common/), included
 * here for the whole server.
 */
#ifndef AIRLIFTD_UTIL_H
#define AIRLIFTD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift_common/atomic_file.h"
#include "airlift_common/hex.h"
#include "airlift_common/name.h"

#define ALD_SHA256_HEX ALC_SHA256_HEX /* characters of a SHA-256 in hex, without NUL */
#define ALD_PATH_MAX 1024 /* file paths the server builds */

/* n bytes from the OS CSPRNG (OpenSSL RAND_bytes); false if it failed. */
bool ald_random(uint8_t *out, size_t n);
void ald_sha256(const void *data, size_t len, uint8_t out[32]);

/* Wall clock in milliseconds since the Unix epoch. */
int64_t ald_now_ms(void);
/* RFC 3339 UTC with milliseconds ("2026-11-24T20:15:03.123Z") into out (>= 25 bytes). */
void ald_format_time(int64_t ms, char *out, size_t cap);

/* The longest name of a device, token, product, group or channel: alc_name_valid(). */
#define ALD_NAME_MAX ALC_NAME_MAX

/* A whole file (1..max bytes) in a fresh malloc'ed buffer; NULL on any failure. */
uint8_t *ald_read_file(const char *path, size_t max, size_t *len);

/* Make the NUL-terminated text s valid UTF-8 in place (issue 14; fuzz/fuzz_coap.c checks it):
 * every byte that does not belong to a well-formed UTF-8 character (RFC 3629: no overlong
 * form, no surrogate, nothing past U+10FFFF) becomes '?'. Returns how many were replaced.
 * For text a device wrote, before it goes into JSON. */
size_t ald_utf8_scrub(char *s);

#endif
