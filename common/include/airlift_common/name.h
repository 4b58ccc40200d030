/*
 * airlift_common/name.h - the one rule for names users give to things: devices, tokens,
 * products, groups, channels (docs/api.md, "Limits").
 */
#ifndef AIRLIFT_COMMON_NAME_H
#define AIRLIFT_COMMON_NAME_H

#include <stdbool.h>

#define ALC_NAME_MAX 64 /* bytes, without the NUL */

/*
 * Is s a valid name: 1..ALC_NAME_MAX bytes of [A-Za-z0-9._-], the first a letter or a
 * digit? Such a name is safe in URL paths, file names and logs without escaping. Reads at
 * most ALC_NAME_MAX + 1 bytes of s.
 */
bool alc_name_valid(const char *s);

#endif
