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

#define ALH_PARTICLE_INFO_SIZE 24           /* bytes of module_info_t on the wire */
#define ALH_PARTICLE_INFO_OFFSET_VT 0x184   /* right after the STM32F2 vector table (Gen 2) */
#define ALH_PARTICLE_INFO_OFFSET_GEN3 0x200 /* right after the nRF52840 vector table (Gen 3) */
#define ALH_PARTICLE_SCAN_MAX 8192          /* other offsets tried: 4-aligned, below this */
#define ALH_PARTICLE_CRC_SIZE 4             /* CRC-32 (big-endian) after module_end_address */
#define ALH_PARTICLE_SUFFIX_MIN 36          /* module_info_suffix_t: ..., sha256[32], u16 size */
#define ALH_PARTICLE_MODULE_MAX (64u * 1024u * 1024u) /* larger end - start is not a header */
#define ALH_PARTICLE_DEP_COUNT 2
/* NCP firmware (function 7) index i is airlift radio index 8 + i; the radio stack (function
 * 8) keeps its index: both are airlift radio modules, and Particle numbers both from 0. */
#define ALH_PARTICLE_NCP_INDEX_BASE 8

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
    ALH_PARTICLE_FN_ASSET = 9,
};
#define ALH_PARTICLE_FN_MAX ALH_PARTICLE_FN_ASSET

/* module_info_t flags (module_info_flags_t of Device OS). */
#define ALH_PARTICLE_FLAG_DROP_MODULE_INFO 0x01 /* header not written to flash with the module */
#define ALH_PARTICLE_FLAG_COMPRESSED 0x02
#define ALH_PARTICLE_FLAG_COMBINED 0x04
#define ALH_PARTICLE_FLAG_ENCRYPTED 0x08
#define ALH_PARTICLE_FLAG_PREFIX_EXTENSIONS 0x10
#define ALH_PARTICLE_FLAGS_KNOWN 0x1f

/* A Particle hardware platform (platform_id of module_info_t): airlift_common's table. */
#include "airlift_common/platform.h"

struct alh_particle_dep {
    uint8_t function; /* ALH_PARTICLE_FN_NONE: no dependency in this slot */
    uint8_t index;
    uint16_t version; /* Device OS integer version */
};

/* A decoded, validated module_info_t and where it was found. */
struct alh_particle_module {
    uint32_t info_offset;   /* 0, 0x184, 0x200, or another 4-aligned offset below 8 KB */
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
    /* Filled by alh_particle_check(): */
    uint32_t crc_stored, crc_computed;
    bool crc_ok;
    bool has_suffix;      /* a plausible module_info_suffix_t precedes the CRC */
    uint16_t suffix_size; /* its size field */
    bool sha_ok;          /* its SHA-256 matches the module (has_suffix only) */
};

/* Result of the conversion to airlift metadata. */
enum alh_particle_status {
    ALH_PARTICLE_OK = 0,
    ALH_PARTICLE_UNKNOWN_VERSION = 1,     /* the module's own version integer is not mapped */
    ALH_PARTICLE_UNKNOWN_DEP_VERSION = 2, /* a dependency's version integer is not mapped */
    ALH_PARTICLE_UNSUPPORTED = 3,         /* a function airlift has no counterpart for */
    ALH_PARTICLE_TOO_MANY_DEPS = 4,       /* module deps + explicit deps exceed the format */
    ALH_PARTICLE_BAD_ARG = 5,
    ALH_PARTICLE_TRUNCATED = 6, /* the header points past the end of the file, or no CRC */
    ALH_PARTICLE_BAD_CRC = 7,   /* the CRC-32 trailer does not match the module */
    ALH_PARTICLE_BAD_SHA = 8,   /* the suffix's SHA-256 does not match the module */
};

/*
 * Decode module_info_t at byte off of buf (len bytes: the whole file) and validate its
 * structure: start < end, end - start at most ALH_PARTICLE_MODULE_MAX and holding the header
 * itself, function known (1..9), platform nonzero, flags known, empty dependency slots all
 * zero. Returns true and fills *out (has_crc says whether the module and its CRC fit the
 * file) if it is a plausible module_info_t; the module may still be truncated.
 */
bool alh_particle_parse_at(const uint8_t *buf, size_t len, size_t off,
                           struct alh_particle_module *out);

/*
 * Find the module header: at offset 0, 0x184 (Gen 2) and 0x200 (Gen 3), the first whose
 * module fits the file with a matching CRC, else the first that fits, else the first
 * truncated one; then any 4-aligned offset below ALH_PARTICLE_SCAN_MAX whose module is
 * exactly the file less its CRC, on a known platform. True if one was found (check it with
 * alh_particle_check before trusting it).
 */
bool alh_particle_find(const uint8_t *buf, size_t len, struct alh_particle_module *out);

/*
 * Integrity of the module m found in buf: the module and its CRC-32 trailer are in the file
 * (else ALH_PARTICLE_TRUNCATED), the CRC-32 of the module's end - start bytes equals the
 * big-endian trailer (else ALH_PARTICLE_BAD_CRC), and if a module_info_suffix_t is present,
 * its SHA-256 matches (else ALH_PARTICLE_BAD_SHA). Fills the crc and suffix fields of *m and
 * writes what is wrong to err (NUL-terminated when errlen > 0).
 */
enum alh_particle_status alh_particle_check(const uint8_t *buf, size_t len,
                                            struct alh_particle_module *m, char *err,
                                            size_t errlen);

/*
 * The bytes of a checked module (alh_particle_check returned OK) that Device OS writes at
 * start_address, as [*off, *off + *len) of the file: for a module with
 * ALH_PARTICLE_FLAG_DROP_MODULE_INFO and its header at 0 (the Gen 3 SoftDevice, P2
 * bootloader parts), the binary between the 24-byte header and the module_info_suffix (or
 * the module's end without a suffix), which is what the suffix's SHA-256 covers; for every
 * other module, the whole file (module and CRC). Returns true when that is not the whole
 * file (the header is dropped).
 */
bool alh_particle_written_span(const struct alh_particle_module *m, size_t file_len,
                               size_t *off, size_t *len);

/* The platform of a platform_id, or NULL if Particle's list does not have it. */
const struct alc_platform *alh_particle_platform(uint16_t id);

/*
 * Particle's name of the release of a system part integer ("0.7.0-rc.6"), or NULL. An
 * integer that several releases share names the last of them.
 */
const char *alh_particle_system_release(uint16_t n);

/*
 * The first release that shipped bootloader n for platform_id (a final release if any did),
 * or NULL. Only rows of Particle's table that list the platform (or list none) count, since
 * the P2 line numbers its bootloaders apart; an unknown platform id matches every row.
 */
const char *alh_particle_bootloader_release(uint16_t n, uint16_t platform_id);

/*
 * A module's version as users know it (bootloader releases for platform_id), into buf (always
 * NUL-terminated when cap > 0): "Device OS 2.3.1 (2302)" for system parts, "bootloader 1006
 * (Device OS 2.2.0)", "radio stack 202 (SoftDevice S140 7.0.1, Device OS 1.4.0)", "NCP
 * firmware 7", "user part 6". Returns buf.
 */
const char *alh_particle_version_label(uint8_t particle_function, uint16_t n,
                                       uint16_t platform_id, char *buf, size_t cap);

/*
 * The label of an airlift module on a Particle platform (known platform id) whose version is
 * N.0.0, as imported from a Particle module: function bootloader, when Particle's table has
 * bootloader N for the platform, "bootloader 1006 (Device OS 2.2.0)"; function radio, index
 * below ALH_PARTICLE_NCP_INDEX_BASE, "radio stack 202 (SoftDevice S140 7.0.1, Device OS
 * 1.4.0)" (or "radio stack N" if not in the table), and from that index on "NCP firmware N".
 * Writes buf (NUL-terminated) and returns it, or returns NULL when none applies (another
 * function or platform, another version form, a bootloader number the table lacks): the
 * version is then its own label. The server and the CLI show it next to the version.
 */
const char *alh_particle_module_label(uint8_t function, uint8_t index, uint16_t platform,
                                      const struct al_version *v, char *buf, size_t cap);

/* Human name of a Particle function ("system part", ...), "unknown" otherwise. Never NULL. */
const char *alh_particle_function_name(uint8_t particle_function);

/* airlift function for a Particle one (bootloader, system, application, radio), 0 if none. */
uint8_t alh_particle_map_function(uint8_t particle_function);

/*
 * airlift index of a Particle module (function, index): NCP firmware 8 + index, any other
 * the index itself. False if the result is above AL_INDEX_MAX.
 */
bool alh_particle_map_index(uint8_t particle_function, uint8_t index, uint8_t *out);

/*
 * Semantic version of a Device OS version integer for a module of the given Particle
 * function: system parts through Particle's table of releases (207 -> 0.7.0, 1503 ->
 * 1.5.1-0.tracker.1), bootloaders, user parts and radio modules as N.0.0. Returns false if
 * the integer is not known.
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
