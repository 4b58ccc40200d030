/*
 * util.h - small helpers of airliftd: hex, randomness and SHA-256 (OpenSSL), time, names,
 * and crash-safe file writes.
 */
#ifndef AIRLIFTD_UTIL_H
#define AIRLIFTD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALD_SHA256_HEX 64 /* characters of a SHA-256 in hex, without NUL */
#define ALD_PATH_MAX 1024 /* file paths the server builds */

/* Lowercase hex of n bytes into out (2n + 1 bytes with the NUL). */
void ald_hex_encode(const uint8_t *in, size_t n, char *out);
/* Exactly 2n hex digits (either case) of s into out; false for anything else. */
bool ald_hex_decode(const char *s, uint8_t *out, size_t n);
/* Is s exactly len lowercase hex digits? */
bool ald_is_lower_hex(const char *s, size_t len);

/* n bytes from the OS CSPRNG (OpenSSL RAND_bytes); false if it failed. */
bool ald_random(uint8_t *out, size_t n);
void ald_sha256(const void *data, size_t len, uint8_t out[32]);

/* Wall clock in milliseconds since the Unix epoch. */
int64_t ald_now_ms(void);
/* RFC 3339 UTC with milliseconds ("2026-11-24T20:15:03.123Z") into out (>= 25 bytes). */
void ald_format_time(int64_t ms, char *out, size_t cap);

/*
 * A name users give to things (devices, tokens): 1..64 bytes of [A-Za-z0-9._-], starting
 * with a letter or digit. Safe in URLs, file names and logs without escaping.
 */
#define ALD_NAME_MAX 64
bool ald_name_valid(const char *s);

/*
 * Write len bytes to path atomically and durably: a temporary file next to it (mode `mode`),
 * write, fsync, rename over path, fsync of the directory. On failure path is untouched and
 * the temporary file removed. Returns 0, or -1 with errno set.
 */
int ald_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* A whole file (1..max bytes) in a fresh malloc'ed buffer; NULL on any failure. */
uint8_t *ald_read_file(const char *path, size_t max, size_t *len);

#endif
