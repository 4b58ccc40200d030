/*
 * name.c - see airlift_common/name.h.
 */
#include "airlift_common/name.h"

#include <stddef.h>

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool alc_name_valid(const char *s)
{
    size_t n;
    if (!is_alnum(s[0]))
        return false;
    for (n = 1; s[n] && n <= ALC_NAME_MAX; n++)
        if (!is_alnum(s[n]) && s[n] != '.' && s[n] != '_' && s[n] != '-')
            return false;
    return n <= ALC_NAME_MAX;
}
