/*
 * test_particle.c - host/particle.c on the real Electron modules in AIRLIFT_FIRMWARE_DIR and
 * the real Gen 2, Gen 3 and P2/M SoM modules in tests/data/particle (AIRLIFT_PARTICLE_DATA).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift_host/particle.h"

#define ELECTRON_DIR AIRLIFT_FIRMWARE_DIR "/electron"
#define MAX_MODULE (1024 * 1024)

static uint8_t *load_from(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    uint8_t *buf = malloc(MAX_MODULE);
    FILE *f;

    assert_non_null(buf);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    *len = fread(buf, 1, MAX_MODULE, f);
    fclose(f);
    assert_true(*len > 0 && *len < MAX_MODULE);
    return buf;
}

static uint8_t *load(const char *name, size_t *len)
{
    return load_from(ELECTRON_DIR, name, len);
}

static void version_str(const struct al_version *v, char *buf, size_t cap)
{
    snprintf(buf, cap, "%u.%u.%u%s%s", (unsigned)v->major, (unsigned)v->minor,
             (unsigned)v->patch, v->pre[0] != '\0' ? "-" : "", v->pre);
}

/* Every module of the directory: found, CRC present, and its version integer maps to the
 * release in its file name (bootloaders: N.0.0). */
static void test_every_electron_module(void **state)
{
    DIR *dir = opendir(ELECTRON_DIR);
    struct dirent *e;
    int seen = 0;

    (void)state;
    assert_non_null(dir);
    while ((e = readdir(dir)) != NULL) {
        struct alh_particle_module m;
        struct al_image_header h;
        char name_version[32] = "";
        char got[64];
        char err[256];
        unsigned part = 0;
        size_t len;
        uint8_t *buf;
        bool is_system = sscanf(e->d_name, "system-part%u-%31[0-9.].bin", &part, name_version) == 2;
        bool is_bootloader = strncmp(e->d_name, "bootloader-", 11) == 0;

        if (!is_system && !is_bootloader)
            continue;
        if (is_system) /* sscanf keeps the dot before "bin": trim it */
            name_version[strlen(name_version) - 1] = '\0';
        buf = load(e->d_name, &len);
        if (!alh_particle_find(buf, len, &m))
            fail_msg("%s: no module_info found", e->d_name);
        assert_int_equal(m.platform_id, 10);
        assert_true(m.has_crc);
        assert_int_equal(m.end_address - m.start_address + ALH_PARTICLE_CRC_SIZE, len);
        memset(&h, 0, sizeof(h));
        if (alh_particle_to_header(&m, NULL, &h, err, sizeof(err)) != ALH_PARTICLE_OK)
            fail_msg("%s: %s", e->d_name, err);
        version_str(&h.version, got, sizeof(got));
        if (is_system) {
            assert_int_equal(m.function, ALH_PARTICLE_FN_SYSTEM_PART);
            assert_int_equal(h.function, AL_FN_SYSTEM);
            /* Electron files: part1 is module 3 at 0x08060000 with module_info at 0. */
            assert_int_equal(m.info_offset, part == 1 ? 0 : ALH_PARTICLE_INFO_OFFSET_VT);
            assert_string_equal(got, name_version);
        } else {
            assert_int_equal(h.function, AL_FN_BOOTLOADER);
            assert_int_equal(m.info_offset, ALH_PARTICLE_INFO_OFFSET_VT);
            assert_string_equal(got, "1006.0.0");
            assert_int_equal(h.dep_count, 0);
        }
        assert_int_equal(h.link_address, m.start_address);
        assert_int_equal(h.platform, 10);
        free(buf);
        seen++;
    }
    closedir(dir);
    assert_int_equal(seen, 29);
}

static void test_part3_070_metadata(void **state)
{
    struct alh_particle_module m;
    struct al_image_header h;
    char v[64];
    size_t len;
    uint8_t *buf = load("system-part3-0.7.0.bin", &len);

    (void)state;
    assert_true(alh_particle_find(buf, len, &m));
    assert_int_equal(m.version, 207);
    memset(&h, 0, sizeof(h));
    assert_int_equal(alh_particle_to_header(&m, NULL, &h, NULL, 0), ALH_PARTICLE_OK);
    assert_int_equal(h.function, AL_FN_SYSTEM);
    assert_int_equal(h.index, 2);
    assert_int_equal(h.link_address, 0x08040000);
    assert_int_equal(h.dep_count, 2);
    assert_int_equal(h.deps[0].function, AL_FN_SYSTEM);
    assert_int_equal(h.deps[0].index, 1);
    version_str(&h.deps[0].min_version, v, sizeof(v));
    assert_string_equal(v, "0.7.0");
    assert_int_equal(h.deps[1].function, AL_FN_BOOTLOADER);
    assert_int_equal(h.deps[1].index, 0);
    version_str(&h.deps[1].min_version, v, sizeof(v));
    assert_string_equal(v, "101.0.0");
    free(buf);
}

static void test_part1_070_at_offset_zero(void **state)
{
    struct alh_particle_module m;
    struct al_image_header h;
    char v[64];
    size_t len;
    uint8_t *buf = load("system-part1-0.7.0.bin", &len);

    (void)state;
    assert_true(alh_particle_find(buf, len, &m));
    assert_int_equal(m.info_offset, 0);
    memset(&h, 0, sizeof(h));
    assert_int_equal(alh_particle_to_header(&m, NULL, &h, NULL, 0), ALH_PARTICLE_OK);
    assert_int_equal(h.index, 3);
    assert_int_equal(h.link_address, 0x08060000);
    assert_int_equal(h.dep_count, 1);
    version_str(&h.deps[0].min_version, v, sizeof(v));
    assert_string_equal(v, "0.6.4"); /* 0.7.0's part1 accepts part2 >= 110 */
    free(buf);
}

static void test_version_table(void **state)
{
    static const struct {
        uint16_t n;
        const char *v;
    } table[] = {{110, "0.6.4"},  {207, "0.7.0"},  {1502, "1.5.0"}, {1512, "1.5.2"},
                 {2011, "2.0.1"}, {2101, "2.1.0"}, {2202, "2.2.0"}, {2301, "2.3.0"},
                 {2302, "2.3.1"}};
    struct al_version v;
    char got[64];

    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_true(alh_particle_version(ALH_PARTICLE_FN_SYSTEM_PART, table[i].n, &v));
        version_str(&v, got, sizeof(got));
        assert_string_equal(got, table[i].v);
    }
    assert_false(alh_particle_version(ALH_PARTICLE_FN_SYSTEM_PART, 9999, &v));
    assert_true(alh_particle_version(ALH_PARTICLE_FN_BOOTLOADER, 101, &v));
    version_str(&v, got, sizeof(got));
    assert_string_equal(got, "101.0.0");
    assert_true(alh_particle_version(ALH_PARTICLE_FN_USER_PART, 6, &v));
    assert_int_equal(v.major, 6);
    assert_false(alh_particle_version(ALH_PARTICLE_FN_SETTINGS, 1, &v));
    assert_int_equal(alh_particle_map_function(ALH_PARTICLE_FN_NCP_FIRMWARE), AL_FN_RADIO);
    assert_int_equal(alh_particle_map_function(ALH_PARTICLE_FN_RADIO_STACK), AL_FN_RADIO);
    assert_int_equal(alh_particle_map_function(ALH_PARTICLE_FN_USER_PART), AL_FN_APPLICATION);
    assert_int_equal(alh_particle_map_function(ALH_PARTICLE_FN_MONO_FIRMWARE), 0);
}

/* Unknown version integers: errors that name the field, and the ways around them. */
static void test_unknown_versions(void **state)
{
    struct alh_particle_module m;
    struct al_image_header h;
    struct al_version v;
    struct al_dependency explicit_dep;
    struct alh_particle_import imp;
    char err[256];
    size_t len;
    uint8_t *buf = load("system-part3-0.7.0.bin", &len);

    (void)state;
    assert_true(alh_particle_find(buf, len, &m));

    m.version = 4300; /* not a Device OS release */
    memset(&h, 0, sizeof(h));
    assert_int_equal(alh_particle_to_header(&m, NULL, &h, err, sizeof(err)),
                     ALH_PARTICLE_UNKNOWN_VERSION);
    assert_non_null(strstr(err, "4300"));
    memset(&v, 0, sizeof(v));
    v.major = 3;
    memset(&imp, 0, sizeof(imp));
    imp.version = &v;
    assert_int_equal(alh_particle_to_header(&m, &imp, &h, err, sizeof(err)), ALH_PARTICLE_OK);
    assert_int_equal(h.version.major, 3);

    m.deps[0].version = 4301; /* system 1 >= ? */
    assert_int_equal(alh_particle_to_header(&m, &imp, &h, err, sizeof(err)),
                     ALH_PARTICLE_UNKNOWN_DEP_VERSION);
    assert_non_null(strstr(err, "dependency 1"));
    assert_non_null(strstr(err, "4301"));

    memset(&explicit_dep, 0, sizeof(explicit_dep));
    explicit_dep.function = AL_FN_SYSTEM;
    explicit_dep.index = 1;
    explicit_dep.min_version.major = 3;
    imp.explicit_deps = &explicit_dep;
    imp.explicit_dep_count = 1;
    assert_int_equal(alh_particle_to_header(&m, &imp, &h, err, sizeof(err)), ALH_PARTICLE_OK);
    assert_int_equal(h.dep_count, 2); /* bootloader from the module, system 1 explicit */
    assert_int_equal(h.deps[0].function, AL_FN_BOOTLOADER);
    assert_int_equal(h.deps[1].function, AL_FN_SYSTEM);
    assert_int_equal(h.deps[1].min_version.major, 3);

    imp.explicit_dep_count = 0;
    imp.no_module_deps = true;
    assert_int_equal(alh_particle_to_header(&m, &imp, &h, err, sizeof(err)), ALH_PARTICLE_OK);
    assert_int_equal(h.dep_count, 0);

    m.function = ALH_PARTICLE_FN_SETTINGS;
    assert_int_equal(alh_particle_to_header(&m, &imp, &h, err, sizeof(err)),
                     ALH_PARTICLE_UNSUPPORTED);
    free(buf);
}

/* Not modules: zeros, code, a truncated module, a platform of 0. */
static void test_rejects(void **state)
{
    struct alh_particle_module m;
    static uint8_t zeros[4096];
    uint8_t *buf;
    size_t len;

    (void)state;
    assert_false(alh_particle_find(zeros, sizeof(zeros), &m));
    assert_false(alh_particle_find(zeros, 10, &m));
    assert_false(alh_particle_find(NULL, 0, &m));

    buf = load("system-part2-0.7.0.bin", &len);
    assert_false(alh_particle_parse_at(buf, len, 0, &m)); /* a vector table, not a header */
    assert_true(alh_particle_parse_at(buf, len, ALH_PARTICLE_INFO_OFFSET_VT, &m));
    assert_true(alh_particle_find(buf, len / 2, &m)); /* found, but the module is larger */
    assert_false(m.has_crc);
    assert_int_equal(alh_particle_check(buf, len / 2, &m, NULL, 0), ALH_PARTICLE_TRUNCATED);
    buf[0x184 + 12] = 0;
    buf[0x184 + 13] = 0; /* platform 0 */
    assert_false(alh_particle_find(buf, len, &m));
    free(buf);

    buf = load("system-part1-0.7.0.bin", &len);
    buf[0] = 0xff;
    buf[1] = 0xff;
    buf[2] = 0xff;
    buf[3] = 0xff; /* start above end */
    assert_false(alh_particle_parse_at(buf, len, 0, &m));
    free(buf);
}


/* Every sample of tests/data/particle: where its header is, what it maps to. */
static void test_every_platform(void **state)
{
    static const struct {
        const char *file;
        uint16_t platform;
        uint8_t generation;
        uint32_t info_offset;
        uint8_t function;     /* Particle's */
        uint8_t al_function;  /* airlift's */
        uint8_t index;
        const char *version;  /* of the airlift image */
        const char *label;    /* alh_particle_version_label */
        uint8_t dep_count;
        bool suffix;
    } cases[] = {
        {"photon-bootloader@2.2.0+lto.bin", 6, 2, 0x184, 2, AL_FN_BOOTLOADER, 0, "1006.0.0",
         "bootloader 1006 (Device OS 2.2.0)", 0, true},
        {"tinker-0.4.5-photon.bin", 6, 2, 0, 5, AL_FN_APPLICATION, 1, "3.0.0", "user part 3", 1,
         true},
        {"tinker-0.4.5-p1.bin", 8, 2, 0, 5, AL_FN_APPLICATION, 1, "3.0.0", "user part 3", 1,
         true},
        {"electron_tinker.bin", 10, 2, 0, 5, AL_FN_APPLICATION, 1, "3.0.0", "user part 3", 1,
         true},
        {"boron-bootloader@2.2.0.bin", 13, 3, 0x200, 2, AL_FN_BOOTLOADER, 0, "1006.0.0",
         "bootloader 1006 (Device OS 2.2.0)", 0, true},
        {"boron-softdevice@2.2.0.bin", 13, 3, 0, 8, AL_FN_RADIO, 0, "202.0.0",
         "radio stack 202 (SoftDevice S140 7.0.1, Device OS 1.4.0)", 2, true},
        {"boron-system-part1@2.2.0.bin", 13, 3, 0x200, 4, AL_FN_SYSTEM, 1, "2.2.0",
         "Device OS 2.2.0 (2202)", 2, true},
        {"tracker-bootloader@2.2.0.bin", 26, 3, 0x200, 2, AL_FN_BOOTLOADER, 0, "1006.0.0",
         "bootloader 1006 (Device OS 2.2.0)", 0, true},
        {"tinker-0.8.0-rc.27-argon.bin", 12, 3, 0, 5, AL_FN_APPLICATION, 1, "5.0.0",
         "user part 5", 1, true},
        {"tinker-0.8.0-rc.27-boron.bin", 13, 3, 0, 5, AL_FN_APPLICATION, 1, "5.0.0",
         "user part 5", 1, true},
        {"tinker-0.8.0-rc.27-xenon.bin", 14, 3, 0, 5, AL_FN_APPLICATION, 1, "5.0.0",
         "user part 5", 1, true},
        {"tinker-1.1.0-rc.1-bsom.bin", 23, 3, 0, 5, AL_FN_APPLICATION, 1, "6.0.0", "user part 6",
         1, true},
        {"tinker-1.5.0-b5som.bin", 25, 3, 0, 5, AL_FN_APPLICATION, 1, "6.0.0", "user part 6", 1,
         true},
        {"tracker-tinker@1.5.4-rc.1.bin", 26, 3, 0, 5, AL_FN_APPLICATION, 1, "6.0.0",
         "user part 6", 1, true},
        {"tinker-5.0.0-p2.bin", 32, 4, 0, 5, AL_FN_APPLICATION, 1, "6.0.0", "user part 6", 1,
         true},
        {"tinker-5.8.0-trackerm.bin", 28, 4, 0, 5, AL_FN_APPLICATION, 1, "6.0.0", "user part 6",
         1, true},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct alh_particle_module m;
        struct al_image_header h;
        const struct alc_platform *pl;
        char err[256], got[64], label[96];
        size_t len;
        uint8_t *buf = load_from(AIRLIFT_PARTICLE_DATA, cases[i].file, &len);

        if (!alh_particle_find(buf, len, &m))
            fail_msg("%s: no module_info found", cases[i].file);
        if (alh_particle_check(buf, len, &m, err, sizeof(err)) != ALH_PARTICLE_OK)
            fail_msg("%s: %s", cases[i].file, err);
        assert_true(m.crc_ok);
        assert_int_equal(m.has_suffix, cases[i].suffix);
        assert_true(!m.has_suffix || m.sha_ok);
        assert_int_equal(m.platform_id, cases[i].platform);
        pl = alh_particle_platform(m.platform_id);
        assert_non_null(pl);
        assert_int_equal(pl->generation, cases[i].generation);
        assert_int_equal(m.info_offset, cases[i].info_offset);
        assert_int_equal(m.function, cases[i].function);
        assert_int_equal(m.end_address - m.start_address + ALH_PARTICLE_CRC_SIZE, len);
        alh_particle_version_label(m.function, m.version, m.platform_id, label, sizeof(label));
        assert_string_equal(label, cases[i].label);
        memset(&h, 0, sizeof(h));
        if (alh_particle_to_header(&m, NULL, &h, err, sizeof(err)) != ALH_PARTICLE_OK)
            fail_msg("%s: %s", cases[i].file, err);
        assert_int_equal(h.function, cases[i].al_function);
        assert_int_equal(h.index, cases[i].index);
        assert_int_equal(h.platform, cases[i].platform);
        assert_int_equal(h.link_address, m.start_address);
        assert_int_equal(h.dep_count, cases[i].dep_count);
        version_str(&h.version, got, sizeof(got));
        assert_string_equal(got, cases[i].version);
        /* What the server and the CLI show for the wrapped image: the same label for
         * bootloaders and radio modules, none (the version itself) for the others. */
        if (h.function == AL_FN_BOOTLOADER || h.function == AL_FN_RADIO) {
            const char *l = alh_particle_module_label(h.function, h.index, h.platform,
                                                      &h.version, label, sizeof(label));
            assert_non_null(l);
            assert_string_equal(l, cases[i].label);
        } else {
            assert_null(alh_particle_module_label(h.function, h.index, h.platform, &h.version,
                                                  label, sizeof(label)));
        }
        free(buf);
    }
}

/* Boron system part 1 of 2.2.0: needs bootloader 1005 and SoftDevice 202; the SoftDevice
 * (flag DROP_MODULE_INFO) needs bootloader 501 and system part 1 of 1.3.1 (1321). */
static void test_boron_dependencies(void **state)
{
    struct alh_particle_module m;
    struct al_image_header h;
    char v[64];
    size_t len;
    uint8_t *buf = load_from(AIRLIFT_PARTICLE_DATA, "boron-system-part1@2.2.0.bin", &len);

    (void)state;
    assert_true(alh_particle_find(buf, len, &m));
    memset(&h, 0, sizeof(h));
    assert_int_equal(alh_particle_to_header(&m, NULL, &h, NULL, 0), ALH_PARTICLE_OK);
    assert_int_equal(h.link_address, 0x00030000);
    assert_int_equal(h.deps[0].function, AL_FN_BOOTLOADER);
    version_str(&h.deps[0].min_version, v, sizeof(v));
    assert_string_equal(v, "1005.0.0");
    assert_int_equal(h.deps[1].function, AL_FN_RADIO);
    version_str(&h.deps[1].min_version, v, sizeof(v));
    assert_string_equal(v, "202.0.0");
    free(buf);

    buf = load_from(AIRLIFT_PARTICLE_DATA, "boron-softdevice@2.2.0.bin", &len);
    assert_true(alh_particle_find(buf, len, &m));
    assert_int_equal(m.flags & ALH_PARTICLE_FLAG_DROP_MODULE_INFO,
                     ALH_PARTICLE_FLAG_DROP_MODULE_INFO);
    assert_int_equal(alh_particle_check(buf, len, &m, NULL, 0), ALH_PARTICLE_OK);
    memset(&h, 0, sizeof(h));
    assert_int_equal(alh_particle_to_header(&m, NULL, &h, NULL, 0), ALH_PARTICLE_OK);
    assert_int_equal(h.link_address, 0x00001000);
    assert_int_equal(h.deps[1].function, AL_FN_SYSTEM);
    version_str(&h.deps[1].min_version, v, sizeof(v));
    assert_string_equal(v, "1.3.1");
    free(buf);
}

/* The M SoM tinker of 6.3.4 needs system part 1 >= 6305, newer than the table: a clear
 * error naming the dependency; with an explicit --dep it wraps. */
static void test_msom_newer_than_table(void **state)
{
    struct alh_particle_module m;
    struct al_image_header h;
    struct al_dependency dep;
    struct alh_particle_import imp;
    char err[256];
    size_t len;
    uint8_t *buf = load_from(AIRLIFT_PARTICLE_DATA, "tinker-6.3.4-msom.bin", &len);

    (void)state;
    assert_true(alh_particle_find(buf, len, &m));
    assert_int_equal(alh_particle_check(buf, len, &m, NULL, 0), ALH_PARTICLE_OK);
    assert_int_equal(m.platform_id, 35);
    assert_string_equal(alh_particle_platform(35)->label, "M SoM");
    memset(&h, 0, sizeof(h));
    assert_int_equal(alh_particle_to_header(&m, NULL, &h, err, sizeof(err)),
                     ALH_PARTICLE_UNKNOWN_DEP_VERSION);
    assert_non_null(strstr(err, "6305"));
    memset(&dep, 0, sizeof(dep));
    dep.function = AL_FN_SYSTEM;
    dep.index = 1;
    dep.min_version.major = 6;
    dep.min_version.minor = 3;
    dep.min_version.patch = 4;
    memset(&imp, 0, sizeof(imp));
    imp.explicit_deps = &dep;
    imp.explicit_dep_count = 1;
    assert_int_equal(alh_particle_to_header(&m, &imp, &h, err, sizeof(err)), ALH_PARTICLE_OK);
    free(buf);
}

/* Corrupt modules: a flipped byte (bad CRC), a CRC fixed over a changed module (bad SHA-256),
 * a cut file (truncated), a header pointing past the end, no CRC trailer. */
static void test_corrupt_refused(void **state)
{
    struct alh_particle_module m;
    char err[256];
    size_t len;
    uint8_t *buf = load_from(AIRLIFT_PARTICLE_DATA, "boron-bootloader@2.2.0.bin", &len);
    uint32_t crc;

    (void)state;
    buf[0x1000] ^= 0x01;
    assert_true(alh_particle_find(buf, len, &m));
    assert_int_equal(alh_particle_check(buf, len, &m, err, sizeof(err)), ALH_PARTICLE_BAD_CRC);
    assert_non_null(strstr(err, "bad CRC"));
    assert_non_null(strstr(err, "0x2a3fec02")); /* the trailer's value */

    /* Same change, CRC recomputed: the SHA-256 in the suffix still catches it. */
    crc = 0xffffffffu;
    for (size_t i = 0; i < len - 4; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    crc = ~crc;
    buf[len - 4] = (uint8_t)(crc >> 24);
    buf[len - 3] = (uint8_t)(crc >> 16);
    buf[len - 2] = (uint8_t)(crc >> 8);
    buf[len - 1] = (uint8_t)crc;
    assert_true(alh_particle_find(buf, len, &m));
    assert_int_equal(alh_particle_check(buf, len, &m, err, sizeof(err)), ALH_PARTICLE_BAD_SHA);
    assert_non_null(strstr(err, "SHA-256"));
    free(buf);

    buf = load_from(AIRLIFT_PARTICLE_DATA, "boron-bootloader@2.2.0.bin", &len);
    assert_true(alh_particle_find(buf, len - 1000, &m));
    assert_int_equal(alh_particle_check(buf, len - 1000, &m, err, sizeof(err)),
                     ALH_PARTICLE_TRUNCATED);
    assert_non_null(strstr(err, "truncated"));
    assert_true(alh_particle_find(buf, len - 2, &m)); /* module whole, CRC cut */
    assert_int_equal(alh_particle_check(buf, len - 2, &m, err, sizeof(err)),
                     ALH_PARTICLE_TRUNCATED);
    assert_non_null(strstr(err, "CRC-32"));
    /* end address 1 MB further: the header points past the end of the file */
    buf[0x200 + 6] = (uint8_t)(buf[0x200 + 6] + 0x10);
    assert_true(alh_particle_find(buf, len, &m));
    assert_int_equal(alh_particle_check(buf, len, &m, err, sizeof(err)), ALH_PARTICLE_TRUNCATED);
    assert_non_null(strstr(err, "says the module is"));
    free(buf);
}

/* The SoftDevice's header is dropped when Device OS writes it (DROP_MODULE_INFO): what runs
 * at 0x1000 is the binary between header and suffix, the bytes the suffix's SHA-256 covers.
 * Every other module is written whole. */
static void test_written_span(void **state)
{
    struct alh_particle_module m;
    char err[256];
    size_t len, off, n;
    uint8_t *buf = load_from(AIRLIFT_PARTICLE_DATA, "boron-softdevice@2.2.0.bin", &len);

    (void)state;
    assert_true(alh_particle_find(buf, len, &m));
    assert_int_equal(alh_particle_check(buf, len, &m, err, sizeof(err)), ALH_PARTICLE_OK);
    assert_true(alh_particle_written_span(&m, len, &off, &n));
    assert_int_equal(off, 24);
    assert_int_equal(n, 0x255d4 - 24 - 36); /* end - start, less header and suffix */
    assert_int_equal(buf[off + 3], 0x20);   /* the SoftDevice's initial stack pointer */
    free(buf);
    buf = load_from(AIRLIFT_PARTICLE_DATA, "boron-bootloader@2.2.0.bin", &len);
    assert_true(alh_particle_find(buf, len, &m));
    assert_int_equal(alh_particle_check(buf, len, &m, err, sizeof(err)), ALH_PARTICLE_OK);
    assert_false(alh_particle_written_span(&m, len, &off, &n));
    assert_int_equal(off, 0);
    assert_int_equal(n, len);
    free(buf);
}

/* An Argon's NCP firmware (function 7, index 0) and its SoftDevice (function 8, index 0)
 * are two airlift radio modules: NCP index i is radio 8 + i. Labels of wrapped images. */
static void test_ncp_and_labels(void **state)
{
    uint8_t mod[64 + ALH_PARTICLE_CRC_SIZE];
    struct alh_particle_module m;
    struct al_image_header h;
    struct al_version v;
    char err[256], label[96];
    uint8_t idx;

    (void)state;
    memset(mod, 0xa5, sizeof(mod));
    memset(mod, 0, ALH_PARTICLE_INFO_SIZE);
    mod[4] = 64;                    /* start 0, end 64 */
    mod[10] = 7;                    /* version 7 */
    mod[12] = 12;                   /* Argon */
    mod[14] = ALH_PARTICLE_FN_NCP_FIRMWARE;
    mod[16] = ALH_PARTICLE_FN_NCP_FIRMWARE; /* depends on NCP 0 >= 5 */
    mod[18] = 5;
    assert_true(alh_particle_parse_at(mod, sizeof(mod), 0, &m));
    memset(&h, 0, sizeof(h));
    assert_int_equal(alh_particle_to_header(&m, NULL, &h, err, sizeof(err)), ALH_PARTICLE_OK);
    assert_int_equal(h.function, AL_FN_RADIO);
    assert_int_equal(h.index, 8);
    assert_int_equal(h.dep_count, 1);
    assert_int_equal(h.deps[0].function, AL_FN_RADIO);
    assert_int_equal(h.deps[0].index, 8);
    assert_string_equal(alh_particle_module_label(h.function, h.index, h.platform, &h.version,
                                                  label, sizeof(label)),
                        "NCP firmware 7");
    mod[15] = 8; /* NCP index 8 would be radio 16 */
    assert_true(alh_particle_parse_at(mod, sizeof(mod), 0, &m));
    assert_int_equal(alh_particle_to_header(&m, NULL, &h, err, sizeof(err)),
                     ALH_PARTICLE_UNSUPPORTED);
    assert_non_null(strstr(err, "NCP firmware index 8 is above airlift's maximum"));
    assert_true(alh_particle_map_index(ALH_PARTICLE_FN_RADIO_STACK, 0, &idx));
    assert_int_equal(idx, 0);
    assert_true(alh_particle_map_index(ALH_PARTICLE_FN_NCP_FIRMWARE, 7, &idx));
    assert_int_equal(idx, 15);

    memset(&v, 0, sizeof(v));
    v.major = 1006;
    assert_string_equal(alh_particle_module_label(AL_FN_BOOTLOADER, 0, 10, &v, label,
                                                  sizeof(label)),
                        "bootloader 1006 (Device OS 2.2.0)");
    assert_string_equal(alh_particle_module_label(AL_FN_BOOTLOADER, 0, 32, &v, label,
                                                  sizeof(label)),
                        "bootloader 1006 (Device OS 3.0.1-p2.2)");
    assert_null(alh_particle_module_label(AL_FN_BOOTLOADER, 0, 35, &v, label, sizeof(label)));
    assert_null(alh_particle_module_label(AL_FN_BOOTLOADER, 0, 999, &v, label, sizeof(label)));
    assert_null(alh_particle_module_label(AL_FN_SYSTEM, 1, 10, &v, label, sizeof(label)));
    v.major = 1005;
    assert_string_equal(alh_particle_module_label(AL_FN_BOOTLOADER, 0, 13, &v, label,
                                                  sizeof(label)),
                        "bootloader 1005 (Device OS 2.0.1)");
    v.minor = 1; /* 1005.1.0: set by hand, not a Particle integer */
    assert_null(alh_particle_module_label(AL_FN_BOOTLOADER, 0, 13, &v, label, sizeof(label)));
    v.minor = 0;
    v.major = 70000;
    assert_null(alh_particle_module_label(AL_FN_BOOTLOADER, 0, 13, &v, label, sizeof(label)));
    v.major = 203;
    assert_string_equal(alh_particle_module_label(AL_FN_RADIO, 0, 13, &v, label, sizeof(label)),
                        "radio stack 203");
}

/* Particle's table: every release, pre-releases too; integers order like semantic versions. */
static void test_release_table(void **state)
{
    struct al_version a, b;
    char got[64];
    uint16_t prev = 0;
    bool have_prev = false;

    (void)state;
    assert_string_equal(alh_particle_system_release(1511), "1.5.1");
    assert_string_equal(alh_particle_system_release(1406), "1.4.4");
    assert_string_equal(alh_particle_system_release(2008), "2.0.0");
    assert_string_equal(alh_particle_system_release(205), "0.7.0-rc.6");
    assert_string_equal(alh_particle_system_release(13), "0.5.0"); /* 0.5.0-rc.2 is 13 too */
    assert_string_equal(alh_particle_system_release(6200), "6.2.0");
    assert_null(alh_particle_system_release(4300));
    assert_string_equal(alh_particle_bootloader_release(1006, 13), "2.2.0");
    assert_string_equal(alh_particle_bootloader_release(501, 10), "1.4.2");
    assert_string_equal(alh_particle_bootloader_release(1006, 32), "3.0.1-p2.2"); /* P2 line */
    assert_string_equal(alh_particle_bootloader_release(3100, 32), "6.2.0");
    assert_null(alh_particle_bootloader_release(1006, 35)); /* no M SoM row has it */
    assert_null(alh_particle_bootloader_release(9999, 13));
    assert_true(alh_particle_version(ALH_PARTICLE_FN_SYSTEM_PART, 1503, &a));
    version_str(&a, got, sizeof(got));
    assert_string_equal(got, "1.5.1-0.tracker.1");
    for (uint32_t n = 0; n <= UINT16_MAX; n++) {
        if (!alh_particle_version(ALH_PARTICLE_FN_SYSTEM_PART, (uint16_t)n, &b))
            continue;
        if (have_prev) {
            assert_true(alh_particle_version(ALH_PARTICLE_FN_SYSTEM_PART, prev, &a));
            if (al_version_compare(&a, &b) >= 0)
                fail_msg("%u does not sort before %u", prev, (unsigned)n);
        }
        prev = (uint16_t)n;
        have_prev = true;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_electron_module),
        cmocka_unit_test(test_part3_070_metadata),
        cmocka_unit_test(test_part1_070_at_offset_zero),
        cmocka_unit_test(test_version_table),
        cmocka_unit_test(test_unknown_versions),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_every_platform),
        cmocka_unit_test(test_boron_dependencies),
        cmocka_unit_test(test_msom_newer_than_table),
        cmocka_unit_test(test_corrupt_refused),
        cmocka_unit_test(test_release_table),
        cmocka_unit_test(test_ncp_and_labels),
        cmocka_unit_test(test_written_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
