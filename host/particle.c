/*
 * particle.c - Particle Device OS module_info_t import (see docs/particle-modules.md).
 */
#include "airlift_host/particle.h"

#include <stdio.h>
#include <string.h>

/* Device OS version integers seen in real Electron modules, with their releases. Each entry
 * is checked against ../shared/firmware by tests/cli/test_particle.c. */
static const struct {
    uint16_t number;
    uint32_t major, minor, patch;
} system_versions[] = {
    {110, 0, 6, 4},  {207, 0, 7, 0},  {1502, 1, 5, 0}, {1512, 1, 5, 2}, {2011, 2, 0, 1},
    {2101, 2, 1, 0}, {2202, 2, 2, 0}, {2301, 2, 3, 0}, {2302, 2, 3, 1},
};

static uint32_t read_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t read_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

bool alh_particle_parse_at(const uint8_t *buf, size_t len, size_t off,
                           struct alh_particle_module *out)
{
    struct alh_particle_module m;
    const uint8_t *p;
    uint32_t module_size;

    if (buf == NULL || out == NULL || off > len || len - off < ALH_PARTICLE_INFO_SIZE)
        return false;
    p = buf + off;
    memset(&m, 0, sizeof(m));
    m.info_offset = (uint32_t)off;
    m.start_address = read_le32(p);
    m.end_address = read_le32(p + 4);
    m.reserved = p[8];
    m.flags = p[9];
    m.version = read_le16(p + 10);
    m.platform_id = read_le16(p + 12);
    m.function = p[14];
    m.index = p[15];
    for (size_t i = 0; i < ALH_PARTICLE_DEP_COUNT; i++) {
        const uint8_t *d = p + 16 + 4 * i;
        m.deps[i].function = d[0];
        m.deps[i].index = d[1];
        m.deps[i].version = read_le16(d + 2);
    }

    if (m.start_address >= m.end_address)
        return false;
    module_size = m.end_address - m.start_address;
    /* The module must hold its own header and fit the file (the CRC may be missing). */
    if (module_size > len || module_size < off + ALH_PARTICLE_INFO_SIZE)
        return false;
    if (m.function == ALH_PARTICLE_FN_NONE || m.function > ALH_PARTICLE_FN_MAX)
        return false;
    if (m.platform_id == 0)
        return false;
    m.has_crc = len - module_size >= ALH_PARTICLE_CRC_SIZE;
    *out = m;
    return true;
}

bool alh_particle_find(const uint8_t *buf, size_t len, struct alh_particle_module *out)
{
    return alh_particle_parse_at(buf, len, 0, out) ||
           alh_particle_parse_at(buf, len, ALH_PARTICLE_INFO_OFFSET_VT, out);
}

const char *alh_particle_function_name(uint8_t particle_function)
{
    switch (particle_function) {
    case ALH_PARTICLE_FN_NONE: return "none";
    case ALH_PARTICLE_FN_RESOURCE: return "resource";
    case ALH_PARTICLE_FN_BOOTLOADER: return "bootloader";
    case ALH_PARTICLE_FN_MONO_FIRMWARE: return "monolithic firmware";
    case ALH_PARTICLE_FN_SYSTEM_PART: return "system part";
    case ALH_PARTICLE_FN_USER_PART: return "user part";
    case ALH_PARTICLE_FN_SETTINGS: return "settings";
    case ALH_PARTICLE_FN_NCP_FIRMWARE: return "NCP firmware";
    case ALH_PARTICLE_FN_RADIO_STACK: return "radio stack";
    default: return "unknown";
    }
}

uint8_t alh_particle_map_function(uint8_t particle_function)
{
    switch (particle_function) {
    case ALH_PARTICLE_FN_BOOTLOADER: return AL_FN_BOOTLOADER;
    case ALH_PARTICLE_FN_SYSTEM_PART: return AL_FN_SYSTEM;
    case ALH_PARTICLE_FN_USER_PART: return AL_FN_APPLICATION;
    case ALH_PARTICLE_FN_NCP_FIRMWARE:
    case ALH_PARTICLE_FN_RADIO_STACK: return AL_FN_RADIO;
    default: return 0;
    }
}

bool alh_particle_version(uint8_t particle_function, uint16_t n, struct al_version *out)
{
    if (out == NULL)
        return false;
    memset(out, 0, sizeof(*out));
    switch (alh_particle_map_function(particle_function)) {
    case AL_FN_SYSTEM:
        for (size_t i = 0; i < sizeof(system_versions) / sizeof(system_versions[0]); i++) {
            if (system_versions[i].number == n) {
                out->major = system_versions[i].major;
                out->minor = system_versions[i].minor;
                out->patch = system_versions[i].patch;
                return true;
            }
        }
        return false;
    case AL_FN_BOOTLOADER:
    case AL_FN_APPLICATION:
    case AL_FN_RADIO:
        out->major = n; /* a plain counter: N.0.0 keeps its order */
        return true;
    default:
        return false;
    }
}

/* Is there an explicit dependency on (function, index)? */
static bool explicitly_given(const struct alh_particle_import *imp, uint8_t function,
                             uint8_t index)
{
    for (size_t i = 0; i < imp->explicit_dep_count; i++) {
        if (imp->explicit_deps[i].function == function && imp->explicit_deps[i].index == index)
            return true;
    }
    return false;
}

enum alh_particle_status alh_particle_to_header(const struct alh_particle_module *m,
                                                const struct alh_particle_import *imp,
                                                struct al_image_header *tmpl, char *err,
                                                size_t errlen)
{
    static const struct alh_particle_import defaults;
    enum alh_particle_status status = ALH_PARTICLE_OK;
    struct al_dependency deps[AL_IMAGE_MAX_DEPS];
    size_t dep_count = 0;
    uint8_t function;

    if (errlen > 0)
        err[0] = '\0';
    if (m == NULL || tmpl == NULL || (imp != NULL && imp->explicit_dep_count > 0 &&
                                      imp->explicit_deps == NULL)) {
        status = ALH_PARTICLE_BAD_ARG;
        snprintf(err, errlen, "invalid argument");
        goto out;
    }
    if (imp == NULL)
        imp = &defaults;

    function = alh_particle_map_function(m->function);
    if (function == 0) {
        status = ALH_PARTICLE_UNSUPPORTED;
        snprintf(err, errlen, "Particle module function %u (%s) has no airlift counterpart",
                 m->function, alh_particle_function_name(m->function));
        goto out;
    }
    if (m->index > AL_INDEX_MAX) {
        status = ALH_PARTICLE_UNSUPPORTED;
        snprintf(err, errlen, "module index %u is above airlift's maximum %u", m->index,
                 AL_INDEX_MAX);
        goto out;
    }

    if (imp->version != NULL) {
        tmpl->version = *imp->version;
    } else if (!alh_particle_version(m->function, m->version, &tmpl->version)) {
        status = ALH_PARTICLE_UNKNOWN_VERSION;
        snprintf(err, errlen, "%s %u has Device OS version %u; airlift does not know which "
                 "release that is", alh_particle_function_name(m->function), m->index,
                 m->version);
        goto out;
    }

    for (size_t i = 0; !imp->no_module_deps && i < ALH_PARTICLE_DEP_COUNT; i++) {
        const struct alh_particle_dep *pd = &m->deps[i];
        uint8_t dep_function;

        if (pd->function == ALH_PARTICLE_FN_NONE)
            continue;
        dep_function = alh_particle_map_function(pd->function);
        if (dep_function == 0) {
            status = ALH_PARTICLE_UNSUPPORTED;
            snprintf(err, errlen,
                     "dependency %zu is on Particle function %u (%s), which has no airlift "
                     "counterpart", i + 1, pd->function, alh_particle_function_name(pd->function));
            goto out;
        }
        if (explicitly_given(imp, dep_function, pd->index))
            continue;
        if (pd->index > AL_INDEX_MAX) {
            status = ALH_PARTICLE_UNSUPPORTED;
            snprintf(err, errlen, "dependency %zu has module index %u, above airlift's maximum",
                     i + 1, pd->index);
            goto out;
        }
        deps[dep_count].function = dep_function;
        deps[dep_count].index = pd->index;
        if (!alh_particle_version(pd->function, pd->version, &deps[dep_count].min_version)) {
            status = ALH_PARTICLE_UNKNOWN_DEP_VERSION;
            snprintf(err, errlen,
                     "dependency %zu (%s %u >= Device OS %u): airlift does not know which "
                     "release %u is", i + 1, al_function_name(dep_function), pd->index,
                     pd->version, pd->version);
            goto out;
        }
        dep_count++;
    }

    if (dep_count + imp->explicit_dep_count > AL_IMAGE_MAX_DEPS) {
        status = ALH_PARTICLE_TOO_MANY_DEPS;
        snprintf(err, errlen, "%zu dependencies; an image holds at most %d",
                 dep_count + imp->explicit_dep_count, AL_IMAGE_MAX_DEPS);
        goto out;
    }
    for (size_t i = 0; i < imp->explicit_dep_count; i++)
        deps[dep_count++] = imp->explicit_deps[i];

    tmpl->function = function;
    tmpl->index = m->index;
    tmpl->platform = m->platform_id;
    tmpl->link_address = m->start_address;
    tmpl->dep_count = (uint8_t)dep_count;
    memset(tmpl->deps, 0, sizeof(tmpl->deps));
    memcpy(tmpl->deps, deps, dep_count * sizeof(deps[0]));
out:
    return status;
}
