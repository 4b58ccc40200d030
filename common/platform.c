/*
 * platform.c - see airlift_common/platform.h. The ids are the ones Particle's Device OS
 * gives its platforms (PLATFORM_ID), which module headers carry.
 */
#include "airlift_common/platform.h"

#include <string.h>

#include "airlift_common/parse.h"

static const struct alc_platform table[] = {
    {0, "core"},     {6, "photon"},  {8, "p1"},     {10, "electron"}, {12, "argon"},
    {13, "boron"},   {14, "xenon"},  {22, "asom"},  {23, "bsom"},     {24, "xsom"},
    {25, "b5som"},   {26, "tracker"}, {28, "trackerm"}, {32, "p2"},   {35, "msom"},
};

const struct alc_platform *alc_platforms(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const char *alc_platform_name(unsigned id)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].id == id)
            return table[i].name;
    return NULL;
}

bool alc_platform_by_name(const char *name, uint16_t *id)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!strcmp(name, table[i].name)) {
            *id = table[i].id;
            return true;
        }
    }
    return false;
}

bool alc_platform_parse(const char *s, uint16_t *id)
{
    int64_t v;
    if (alc_platform_by_name(s, id))
        return true;
    if (!alc_parse_i64(s, 0, ALC_PLATFORM_ID_MAX, &v))
        return false;
    *id = (uint16_t)v;
    return true;
}
