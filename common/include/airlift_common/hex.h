/*
 * airlift_common/hex.h - bytes as hex text and back.
 */
#ifndef AIRLIFT_COMMON_HEX_H
#define AIRLIFT_COMMON_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALC_SHA256_HEX 64 /* characters of a SHA-256 in hex, without the NUL */

/* n bytes of in as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void alc_hex_encode(const uint8_t *in, size_t n, char *out);

/*
 * s, exactly 2n hex digits (either case) and its NUL, as n bytes into out. false for
 * anything else (a wrong length, a sign, a space, a non-digit); out is then unspecified.
 */
bool alc_hex_decode(const char *s, uint8_t *out, size_t n);

/* Is s exactly len lowercase hex digits and its NUL? (The form alc_hex_encode() writes.) */
bool alc_is_lower_hex(const char *s, size_t len);

/* Is s exactly len hex digits of either case and its NUL? */
bool alc_is_hex(const char *s, size_t len);

#endif
