/*
 * platform.c - see airlift_common/platform.h. The ids are the ones Particle's Device OS
 * gives its platforms (PLATFORM_ID), which module headers carry.
 */
#include "airlift_common/platform.h"

#include <string.h>

#include "airlift_common/parse.h"

static const struct alc_platform table[] = {
    {0, "core", "Core", 1, "STM32F103"},
    {6, "photon", "Photon", 2, "STM32F205"},
    {8, "p1", "P1", 2, "STM32F205"},
    {10, "electron", "Electron", 2, "STM32F205"},
    {12, "argon", "Argon", 3, "nRF52840"},
    {13, "boron", "Boron", 3, "nRF52840"},
    {14, "xenon", "Xenon", 3, "nRF52840"},
    {15, "esomx", "E SoM X", 3, "nRF52840"},
    {22, "asom", "A SoM", 3, "nRF52840"},
    {23, "bsom", "B SoM", 3, "nRF52840"},
    {24, "xsom", "X SoM", 3, "nRF52840"},
    {25, "b5som", "B5 SoM", 3, "nRF52840"},
    {26, "tracker", "Tracker", 3, "nRF52840"},
    {28, "trackerm", "Tracker M", 4, "RTL872x"},
    {32, "p2", "P2", 4, "RTL872x"},
    {35, "msom", "M SoM", 4, "RTL872x"},
    /* issue 14 (ddi): not Particle's; Linux devices updated over DDI (docs/ddi.md) */
    {65534, "linux", "Linux", 0, "any"},
};

const struct alc_platform *alc_platforms(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const struct alc_platform *alc_platform(unsigned id)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].id == id)
            return &table[i];
    return NULL;
}

const char *alc_platform_name(unsigned id)
{
    const struct alc_platform *p = alc_platform(id);
    return p ? p->name : NULL;
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
