/*
 * particle_versions.h - the generated table of Device OS releases (particle_versions.c, made by
 * host/gen/gen_particle_versions.py). Internal to host/particle.c.
 */
#ifndef AIRLIFT_HOST_PARTICLE_VERSIONS_H
#define AIRLIFT_HOST_PARTICLE_VERSIONS_H

#include <stddef.h>
#include <stdint.h>

struct alh_particle_release {
    uint16_t module;     /* system part module_version integer */
    uint16_t bootloader; /* bootloader module_version of that release; 0: not listed */
    const char *release; /* Particle's name of the release, e.g. "0.7.0-rc.6" */
    uint8_t maps;        /* 1: module maps to this row's release (last row carrying it) */
    uint32_t major, minor, patch; /* semantic version the module integer maps to */
    const char *pre;              /* its pre-release tag, "" for a release */
    const char *platforms;        /* "Photon, P1, Electron, ..."; "" when the table says none */
};

extern const struct alh_particle_release alh_particle_releases[];
extern const size_t alh_particle_release_count;

struct alh_particle_radio_stack {
    uint16_t module;     /* radio stack module_version integer (SOFTDEVICE_DEPENDENCY) */
    const char *name;    /* the SoftDevice it is, e.g. "S140 7.0.1" */
    const char *release; /* first final Device OS release requiring it; "" if not known */
};

extern const struct alh_particle_radio_stack alh_particle_radio_stacks[];
extern const size_t alh_particle_radio_stack_count;

#endif
