/*
 * particle.c - Particle Device OS module_info_t import, every platform: find the header, check
 * the CRC-32 and SHA-256 trailers, map versions through Particle's release table
 * (particle_versions.c, generated). See docs/particle-modules.md.
 */
#include "airlift_host/particle.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "al_host_crypto.h"
#include "particle_versions.h"


static uint32_t read_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t read_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

const struct alc_platform *alh_particle_platform(uint16_t id)
{
    return alc_platform(id);
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
        if (m.deps[i].function > ALH_PARTICLE_FN_MAX)
            return false;
        if (m.deps[i].function == ALH_PARTICLE_FN_NONE &&
            (m.deps[i].index != 0 || m.deps[i].version != 0))
            return false;
    }

    if (m.start_address >= m.end_address)
        return false;
    module_size = m.end_address - m.start_address;
    /* The module must hold its own header; it may run past the file (truncated). */
    if (module_size > ALH_PARTICLE_MODULE_MAX || module_size < off + ALH_PARTICLE_INFO_SIZE)
        return false;
    if (m.function == ALH_PARTICLE_FN_NONE || m.function > ALH_PARTICLE_FN_MAX)
        return false;
    if (m.platform_id == 0 || (m.flags & ~ALH_PARTICLE_FLAGS_KNOWN) != 0)
        return false;
    m.has_crc = len >= (size_t)module_size + ALH_PARTICLE_CRC_SIZE;
    *out = m;
    return true;
}

/* CRC-32 (IEEE 802.3, reflected, as zlib) of len bytes. */
static uint32_t crc32_ieee(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static bool crc_matches(const uint8_t *buf, const struct alh_particle_module *m)
{
    uint32_t size = m->end_address - m->start_address;

    return m->has_crc && crc32_ieee(buf, size) == read_be32(buf + size);
}

bool alh_particle_find(const uint8_t *buf, size_t len, struct alh_particle_module *out)
{
    static const size_t preferred[] = {0, ALH_PARTICLE_INFO_OFFSET_VT,
                                       ALH_PARTICLE_INFO_OFFSET_GEN3};
    struct alh_particle_module m, fits, truncated;
    bool have_fits = false, have_truncated = false;

    if (buf == NULL || out == NULL)
        return false;
    for (size_t i = 0; i < sizeof(preferred) / sizeof(preferred[0]); i++) {
        if (!alh_particle_parse_at(buf, len, preferred[i], &m))
            continue;
        if (m.has_crc && crc_matches(buf, &m)) {
            *out = m;
            return true;
        }
        if (m.has_crc && !have_fits) {
            fits = m;
            have_fits = true;
        } else if (!m.has_crc && !have_truncated) {
            truncated = m;
            have_truncated = true;
        }
    }
    if (have_fits) {
        *out = fits;
        return true;
    }
    /* Elsewhere only a strict match: module + CRC exactly the file, on a known platform. */
    for (size_t off = 4; off < ALH_PARTICLE_SCAN_MAX && off + ALH_PARTICLE_INFO_SIZE <= len;
         off += 4) {
        if (off == ALH_PARTICLE_INFO_OFFSET_VT || off == ALH_PARTICLE_INFO_OFFSET_GEN3)
            continue;
        if (alh_particle_parse_at(buf, len, off, &m) && m.has_crc &&
            (size_t)(m.end_address - m.start_address) + ALH_PARTICLE_CRC_SIZE == len &&
            alh_particle_platform(m.platform_id) != NULL) {
            *out = m;
            return true;
        }
    }
    if (have_truncated) {
        *out = truncated;
        return true;
    }
    return false;
}

static void sha256(const uint8_t *p, size_t len, uint8_t out[AL_SHA256_SIZE])
{
    const struct al_crypto *crypto = al_host_crypto();
    union al_sha256_state state;

    crypto->sha256_init(&state);
    crypto->sha256_update(&state, p, len);
    crypto->sha256_final(&state, out);
}

enum alh_particle_status alh_particle_check(const uint8_t *buf, size_t len,
                                            struct alh_particle_module *m, char *err,
                                            size_t errlen)
{
    enum alh_particle_status status = ALH_PARTICLE_OK;
    uint8_t digest[AL_SHA256_SIZE];
    uint32_t size;

    if (errlen > 0)
        err[0] = '\0';
    if (buf == NULL || m == NULL || m->end_address <= m->start_address) {
        status = ALH_PARTICLE_BAD_ARG;
        snprintf(err, errlen, "invalid argument");
        goto out;
    }
    size = m->end_address - m->start_address;
    m->crc_ok = false;
    m->has_suffix = false;
    m->sha_ok = false;
    if (len < size) {
        status = ALH_PARTICLE_TRUNCATED;
        snprintf(err, errlen, "truncated: its module_info (at 0x%x) says the module is %u bytes "
                 "(0x%08x..0x%08x) plus a 4-byte CRC, but the file has only %zu bytes",
                 m->info_offset, size, m->start_address, m->end_address, len);
        goto out;
    }
    if (len < (size_t)size + ALH_PARTICLE_CRC_SIZE) {
        status = ALH_PARTICLE_TRUNCATED;
        snprintf(err, errlen, "truncated: the file ends %zu bytes after the module "
                 "(0x%08x..0x%08x), before the 4-byte CRC-32 that must follow it",
                 len - size, m->start_address, m->end_address);
        goto out;
    }
    m->crc_stored = read_be32(buf + size);
    m->crc_computed = crc32_ieee(buf, size);
    m->crc_ok = m->crc_stored == m->crc_computed;
    if (!m->crc_ok) {
        status = ALH_PARTICLE_BAD_CRC;
        snprintf(err, errlen, "bad CRC: the CRC-32 of its %u module bytes is 0x%08x, the trailer "
                 "at offset %u says 0x%08x (the file is corrupt)", size, m->crc_computed, size,
                 m->crc_stored);
        goto out;
    }
    /* module_info_suffix_t ends the module: ..., sha256[32], u16 size; then the CRC. */
    if (size >= m->info_offset + ALH_PARTICLE_INFO_SIZE + ALH_PARTICLE_SUFFIX_MIN) {
        uint16_t suffix_size = read_le16(buf + size - 2);
        size_t sha_at = size - 2 - AL_SHA256_SIZE;
        /* The hash covers the module up to the hash; a module whose header is dropped when
         * written (a SoftDevice) hashes only what is written: between header and suffix. */
        bool dropped = (m->flags & ALH_PARTICLE_FLAG_DROP_MODULE_INFO) && m->info_offset == 0;
        size_t from = dropped ? ALH_PARTICLE_INFO_SIZE : 0;

        if (suffix_size >= ALH_PARTICLE_SUFFIX_MIN && suffix_size <= 512 &&
            suffix_size <= size - m->info_offset - ALH_PARTICLE_INFO_SIZE) {
            size_t to = dropped ? size - suffix_size : sha_at;
            m->has_suffix = true;
            m->suffix_size = suffix_size;
            sha256(buf + from, to - from, digest);
            m->sha_ok = memcmp(digest, buf + sha_at, sizeof(digest)) == 0;
            if (!m->sha_ok) {
                status = ALH_PARTICLE_BAD_SHA;
                snprintf(err, errlen, "bad SHA-256: the module_info_suffix (%u bytes, ending "
                         "at offset %u) holds a SHA-256 that does not match bytes %zu..%zu of "
                         "the module", suffix_size, size, from, to);
                goto out;
            }
        }
    }
out:
    return status;
}

bool alh_particle_written_span(const struct alh_particle_module *m, size_t file_len,
                               size_t *off, size_t *len)
{
    uint32_t size = m->end_address - m->start_address;

    if (!(m->flags & ALH_PARTICLE_FLAG_DROP_MODULE_INFO) || m->info_offset != 0 ||
        size <= ALH_PARTICLE_INFO_SIZE + (m->has_suffix ? m->suffix_size : 0u)) {
        *off = 0;
        *len = file_len;
        return false;
    }
    *off = ALH_PARTICLE_INFO_SIZE;
    *len = size - ALH_PARTICLE_INFO_SIZE - (m->has_suffix ? m->suffix_size : 0u);
    return true;
}

/* The row a system part integer maps to, or NULL. */
static const struct alh_particle_release *system_row(uint16_t n)
{
    for (size_t i = 0; i < alh_particle_release_count; i++) {
        if (alh_particle_releases[i].maps && alh_particle_releases[i].module == n)
            return &alh_particle_releases[i];
    }
    return NULL;
}

const char *alh_particle_system_release(uint16_t n)
{
    const struct alh_particle_release *r = system_row(n);

    return r != NULL ? r->release : NULL;
}

/* Does the comma-separated list name (case aside: "E Som X") the platform? "" lists all. */
static bool lists_platform(const char *list, const struct alc_platform *pl)
{
    size_t want;

    if (pl == NULL || list[0] == '\0')
        return true;
    want = strlen(pl->label);
    while (*list != '\0') {
        size_t n;
        while (*list == ' ' || *list == ',')
            list++;
        n = strcspn(list, ",");
        while (n > 0 && list[n - 1] == ' ')
            n--;
        if (n == want && strncasecmp(list, pl->label, n) == 0)
            return true;
        list += strcspn(list, ",");
    }
    return false;
}

const char *alh_particle_bootloader_release(uint16_t n, uint16_t platform_id)
{
    const struct alc_platform *pl = alh_particle_platform(platform_id);
    const char *first = NULL;

    if (n == 0)
        return NULL;
    for (size_t i = 0; i < alh_particle_release_count; i++) {
        const struct alh_particle_release *r = &alh_particle_releases[i];
        if (r->bootloader != n || !lists_platform(r->platforms, pl))
            continue;
        if (strchr(r->release, '-') == NULL)
            return r->release;
        if (first == NULL)
            first = r->release;
    }
    return first;
}

/* "radio stack 202 (SoftDevice S140 7.0.1, Device OS 1.4.0)", or without what is not known. */
static void radio_stack_label(uint16_t n, char *buf, size_t cap)
{
    for (size_t i = 0; i < alh_particle_radio_stack_count; i++) {
        const struct alh_particle_radio_stack *r = &alh_particle_radio_stacks[i];
        if (r->module != n)
            continue;
        if (r->release[0] != '\0')
            snprintf(buf, cap, "radio stack %u (SoftDevice %s, Device OS %s)", n, r->name,
                     r->release);
        else
            snprintf(buf, cap, "radio stack %u (SoftDevice %s)", n, r->name);
        return;
    }
    snprintf(buf, cap, "radio stack %u", n);
}

const char *alh_particle_version_label(uint8_t particle_function, uint16_t n,
                                       uint16_t platform_id, char *buf, size_t cap)
{
    const char *release;

    if (buf == NULL || cap == 0)
        return buf;
    switch (particle_function) {
    case ALH_PARTICLE_FN_SYSTEM_PART:
        release = alh_particle_system_release(n);
        if (release != NULL)
            snprintf(buf, cap, "Device OS %s (%u)", release, n);
        else
            snprintf(buf, cap, "Device OS %u (not in Particle's list of releases)", n);
        break;
    case ALH_PARTICLE_FN_BOOTLOADER:
        release = alh_particle_bootloader_release(n, platform_id);
        if (release != NULL)
            snprintf(buf, cap, "bootloader %u (Device OS %s)", n, release);
        else
            snprintf(buf, cap, "bootloader %u", n);
        break;
    case ALH_PARTICLE_FN_RADIO_STACK: radio_stack_label(n, buf, cap); break;
    default: snprintf(buf, cap, "%s %u", alh_particle_function_name(particle_function), n);
    }
    return buf;
}

const char *alh_particle_module_label(uint8_t function, uint8_t index, uint16_t platform,
                                      const struct al_version *v, char *buf, size_t cap)
{
    uint16_t n;

    if (buf == NULL || cap == 0 || v == NULL || alh_particle_platform(platform) == NULL ||
        v->minor != 0 || v->patch != 0 || v->pre[0] != '\0' || v->major > UINT16_MAX)
        return NULL;
    n = (uint16_t)v->major;
    switch (function) {
    case AL_FN_BOOTLOADER:
        if (alh_particle_bootloader_release(n, platform) == NULL)
            return NULL;
        return alh_particle_version_label(ALH_PARTICLE_FN_BOOTLOADER, n, platform, buf, cap);
    case AL_FN_RADIO:
        return alh_particle_version_label(index >= ALH_PARTICLE_NCP_INDEX_BASE
                                              ? ALH_PARTICLE_FN_NCP_FIRMWARE
                                              : ALH_PARTICLE_FN_RADIO_STACK,
                                          n, platform, buf, cap);
    default:
        return NULL;
    }
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
    case ALH_PARTICLE_FN_ASSET: return "asset";
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

bool alh_particle_map_index(uint8_t particle_function, uint8_t index, uint8_t *out)
{
    unsigned mapped = index;

    if (particle_function == ALH_PARTICLE_FN_NCP_FIRMWARE)
        mapped += ALH_PARTICLE_NCP_INDEX_BASE;
    if (mapped > AL_INDEX_MAX)
        return false;
    *out = (uint8_t)mapped;
    return true;
}

bool alh_particle_version(uint8_t particle_function, uint16_t n, struct al_version *out)
{
    if (out == NULL)
        return false;
    memset(out, 0, sizeof(*out));
    switch (alh_particle_map_function(particle_function)) {
    case AL_FN_SYSTEM: {
        const struct alh_particle_release *r = system_row(n);
        if (r == NULL)
            return false;
        out->major = r->major;
        out->minor = r->minor;
        out->patch = r->patch;
        snprintf(out->pre, sizeof(out->pre), "%s", r->pre);
        return true;
    }
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
    uint8_t function, index;

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
    if (!alh_particle_map_index(m->function, m->index, &index)) {
        status = ALH_PARTICLE_UNSUPPORTED;
        snprintf(err, errlen, "%s index %u is above airlift's maximum (%u; NCP firmware "
                 "takes radio indexes %u..%u)", alh_particle_function_name(m->function),
                 m->index, AL_INDEX_MAX, ALH_PARTICLE_NCP_INDEX_BASE, AL_INDEX_MAX);
        goto out;
    }

    if (imp->version != NULL) {
        tmpl->version = *imp->version;
    } else if (!alh_particle_version(m->function, m->version, &tmpl->version)) {
        status = ALH_PARTICLE_UNKNOWN_VERSION;
        snprintf(err, errlen, "%s %u has Device OS version %u, which is not in Particle's list "
                 "of releases airlift was built with (host/particle_versions.c)", alh_particle_function_name(m->function), m->index,
                 m->version);
        goto out;
    }

    for (size_t i = 0; !imp->no_module_deps && i < ALH_PARTICLE_DEP_COUNT; i++) {
        const struct alh_particle_dep *pd = &m->deps[i];
        uint8_t dep_function, dep_index;

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
        if (!alh_particle_map_index(pd->function, pd->index, &dep_index)) {
            status = ALH_PARTICLE_UNSUPPORTED;
            snprintf(err, errlen, "dependency %zu has module index %u, above airlift's maximum",
                     i + 1, pd->index);
            goto out;
        }
        if (explicitly_given(imp, dep_function, dep_index))
            continue;
        deps[dep_count].function = dep_function;
        deps[dep_count].index = dep_index;
        if (!alh_particle_version(pd->function, pd->version, &deps[dep_count].min_version)) {
            status = ALH_PARTICLE_UNKNOWN_DEP_VERSION;
            snprintf(err, errlen,
                     "dependency %zu (%s %u >= Device OS %u): %u is not in Particle's "
                     "list of releases airlift was built with (host/particle_versions.c)", i + 1, al_function_name(dep_function), pd->index,
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
    tmpl->index = index;
    tmpl->platform = m->platform_id;
    tmpl->link_address = m->start_address;
    tmpl->dep_count = (uint8_t)dep_count;
    memset(tmpl->deps, 0, sizeof(tmpl->deps));
    memcpy(tmpl->deps, deps, dep_count * sizeof(deps[0]));
out:
    return status;
}
