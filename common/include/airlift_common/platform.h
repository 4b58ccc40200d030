/*
 * airlift_common/platform.h - the Particle platforms airlift knows by name: the platform id
 * an image is built for (the image header's `platform`, a Particle module's platform_id)
 * and the name users may give instead of the number (docs/api.md, "Platforms"). The ids are
 * Particle's (hal/shared/platforms.h of Device OS); the importer (host/particle.c) reads
 * generation and chip from here too.
 */
#ifndef AIRLIFT_COMMON_PLATFORM_H
#define AIRLIFT_COMMON_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALC_PLATFORM_ELECTRON 10 /* the reference board of the simulator and the tests */
#define ALC_PLATFORM_ID_MAX 65535
/* issue 14 (ddi): Linux devices that update over hawkBit DDI with .swu images (docs/ddi.md) */
#define ALC_PLATFORM_LINUX 65534

struct alc_platform {
    uint16_t id;
    const char *name;    /* lowercase, as users type it: "boron" */
    const char *label;   /* as Particle writes it: "Boron" */
    uint8_t generation;  /* 1 (Core), 2 (STM32F2), 3 (nRF52840), 4 (RTL872x) */
    const char *mcu;     /* "nRF52840" */
};

/* The entry of platform id, or NULL if the table has none. */
const struct alc_platform *alc_platform(unsigned id);

/* The table, in id order: *n entries, static. */
const struct alc_platform *alc_platforms(size_t *n);

/* The name of platform id, or NULL if the table has none. */
const char *alc_platform_name(unsigned id);

/* The id of the platform called name (exact, lowercase); false if the table has none. */
bool alc_platform_by_name(const char *name, uint16_t *id);

/*
 * A platform as users write it: a name from the table (exact, lowercase) or a decimal id
 * 0..ALC_PLATFORM_ID_MAX (digits only, no sign, no leading zero). false for anything else.
 */
bool alc_platform_parse(const char *s, uint16_t *id);

#endif
