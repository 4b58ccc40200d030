/*
 * airlift/version.h - semantic versions with pre-release tags.
 *
 * Follows Semantic Versioning 2.0.0 precedence: 0.7.0-rc.6 < 0.7.0-rc.10 < 0.7.0.
 * Build metadata ("+...") is rejected: it carries no precedence and would not round-trip.
 * On the wire a version is 28 bytes (docs/image-format.md): major, minor, patch as u32 LE,
 * then the pre-release tag as 16 ASCII bytes, zero padded.
 */
#ifndef AIRLIFT_VERSION_H
#define AIRLIFT_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/error.h"

#define AL_PRERELEASE_MAX 16 /* bytes of pre-release tag, without terminator */
#define AL_VERSION_WIRE_SIZE 28
#define AL_VERSION_STR_MAX 50 /* "4294967295.4294967295.4294967295-" (33) + 16 + NUL */

struct al_version {
    uint32_t major;
    uint32_t minor;
    uint32_t patch;
    char pre[AL_PRERELEASE_MAX + 1]; /* NUL-terminated; "" for a release */
};

/* Parse "MAJOR.MINOR.PATCH[-PRE]" of exactly len bytes. No leading zeros in numbers or in
 * numeric pre-release identifiers; identifiers are [0-9A-Za-z-]+ separated by dots.
 * Returns AL_ERR_BAD_VERSION for anything else. */
al_err al_version_parse(const char *s, size_t len, struct al_version *out);

/* <0, 0, >0 by semver precedence. */
int al_version_compare(const struct al_version *a, const struct al_version *b);

/* Writes the canonical string with a NUL; returns its length, or 0 if cap is too small. */
size_t al_version_format(const struct al_version *v, char *buf, size_t cap);

/* Wire form (28 bytes). decode validates like al_version_parse (AL_ERR_BAD_VERSION). */
void al_version_encode(const struct al_version *v, uint8_t out[AL_VERSION_WIRE_SIZE]);
al_err al_version_decode(const uint8_t in[AL_VERSION_WIRE_SIZE], struct al_version *out);

#endif
