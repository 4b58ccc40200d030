/*
 * airlift_host/particle.h - read Particle Device OS module headers (module_info_t) and turn
 * them into airlift image metadata, so existing Device OS binaries wrap with no flags.
 *
 * The mapping (functions, Device OS version integers, bootloader versions) is documented in
 * docs/particle-modules.md. Nothing here allocates; the caller owns every buffer.
 */
#ifndef AIRLIFT_HOST_PARTICLE_H
#define AIRLIFT_HOST_PARTICLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/image.h"
#include "airlift/version.h"

#define ALH_PARTICLE_INFO_SIZE 24         /* bytes of module_info_t on the wire */
#define ALH_PARTICLE_INFO_OFFSET_VT 0x184 /* right after the STM32F2 vector table */
#define ALH_PARTICLE_CRC_SIZE 4           /* CRC-32 that follows module_end_address */
#define ALH_PARTICLE_DEP_COUNT 2

/* module_function values of Device OS (dynalib/inc/module_info.h). */
enum alh_particle_function {
    ALH_PARTICLE_FN_NONE = 0,
    ALH_PARTICLE_FN_RESOURCE = 1,
    ALH_PARTICLE_FN_BOOTLOADER = 2,
    ALH_PARTICLE_FN_MONO_FIRMWARE = 3,
    ALH_PARTICLE_FN_SYSTEM_PART = 4,
    ALH_PARTICLE_FN_USER_PART = 5,
    ALH_PARTICLE_FN_SETTINGS = 6,
    ALH_PARTICLE_FN_NCP_FIRMWARE = 7,
    ALH_PARTICLE_FN_RADIO_STACK = 8,
};
#define ALH_PARTICLE_FN_MAX ALH_PARTICLE_FN_RADIO_STACK

struct alh_particle_dep {
    uint8_t function; /* ALH_PARTICLE_FN_NONE: no dependency in this slot */
    uint8_t index;
    uint16_t version; /* Device OS integer version */
};

/* A decoded, validated module_info_t and where it was found. */
struct alh_particle_module {
    uint32_t info_offset;   /* 0 or ALH_PARTICLE_INFO_OFFSET_VT */
    uint32_t start_address; /* link address of the module's first byte */
    uint32_t end_address;   /* exclusive; the CRC-32 follows */
    uint8_t reserved;
    uint8_t flags;
    uint16_t version;
    uint16_t platform_id;
    uint8_t function;
    uint8_t index;
    struct alh_particle_dep deps[ALH_PARTICLE_DEP_COUNT];
    bool has_crc; /* the file holds the 4 CRC bytes after end_address */
};

/* Result of the conversion to airlift metadata. */
enum alh_particle_status {
    ALH_PARTICLE_OK = 0,
    ALH_PARTICLE_UNKNOWN_VERSION = 1,     /* the module's own version integer is not mapped */
    ALH_PARTICLE_UNKNOWN_DEP_VERSION = 2, /* a dependency's version integer is not mapped */
    ALH_PARTICLE_UNSUPPORTED = 3,         /* a function airlift has no counterpart for */
    ALH_PARTICLE_TOO_MANY_DEPS = 4,       /* module deps + explicit deps exceed the format */
    ALH_PARTICLE_BAD_ARG = 5,
};

/*
 * Decode module_info_t at byte off of buf (len bytes: the whole file) and validate it:
 * start < end, the module (end - start bytes) fits the file and holds the header, function
 * known (1..8), platform nonzero. Returns true and fills *out if it is a plausible module.
 */
bool alh_particle_parse_at(const uint8_t *buf, size_t len, size_t off,
                           struct alh_particle_module *out);

/* Look for module_info_t at offset 0, then after the vector table. True if found. */
bool alh_particle_find(const uint8_t *buf, size_t len, struct alh_particle_module *out);

/* Human name of a Particle function ("system part", ...), "unknown" otherwise. Never NULL. */
const char *alh_particle_function_name(uint8_t particle_function);

/* airlift function for a Particle one (bootloader, system, application, radio), 0 if none. */
uint8_t alh_particle_map_function(uint8_t particle_function);

/*
 * Semantic version of a Device OS version integer for a module of the given Particle
 * function: system parts through the table of known releases (207 -> 0.7.0), bootloaders,
 * user parts and radio modules as N.0.0. Returns false if the integer is not known.
 */
bool alh_particle_version(uint8_t particle_function, uint16_t n, struct al_version *out);

/* How the caller adjusts the import. */
struct alh_particle_import {
    const struct al_version *version; /* replaces the module's version; NULL: from the module */
    bool no_module_deps;              /* drop the dependencies the module declares */
    const struct al_dependency *explicit_deps; /* added; each replaces a module dependency */
    size_t explicit_dep_count;                 /* of the same function and index */
};

/*
 * Fill function, index, platform, link_address, version, dep_count and deps of tmpl from m
 * (other fields untouched). On failure returns the status and writes a message naming the
 * field or dependency in err (always NUL-terminated when errlen > 0).
 */
enum alh_particle_status alh_particle_to_header(const struct alh_particle_module *m,
                                                const struct alh_particle_import *imp,
                                                struct al_image_header *tmpl, char *err,
                                                size_t errlen);

#endif
