/*
 * swu.c - see swu.h.
 */
#include "swu.h"

#include <stdio.h>
#include <string.h>

#include "airlift/version.h"
#include "airlift_common/hex.h"
#include "airlift_common/platform.h"
#include "util.h"

#define CPIO_HDR 110 /* "070702" and 13 fields of 8 hex digits */
#define CPIO_NAME_MAX 1024

/* Field i (0: c_ino ... 12: c_check) of the cpio header at p, as a number. false if not hex. */
static bool cpio_field(const uint8_t *p, int i, uint32_t *out)
{
    uint32_t v = 0;
    for (int k = 0; k < 8; k++) {
        uint8_t ch = p[6 + 8 * i + k];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10u;
        else if (ch >= 'A' && ch <= 'F')
            d = ch - 'A' + 10u;
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

static size_t pad4(size_t n)
{
    return (n + 3u) & ~(size_t)3u;
}

/* One cpio entry at off: its name (pointer into the file, NUL-terminated by the archive) and
 * data. false if the header is not one or does not fit. */
struct entry {
    const char *name;
    size_t data_off, data_len, next;
};

static bool cpio_entry(const uint8_t *file, size_t len, size_t off, struct entry *e)
{
    uint32_t namesize, filesize;
    if (off > len || len - off < CPIO_HDR || memcmp(file + off, "070702", 6) != 0 ||
        !cpio_field(file + off, 6, &filesize) || !cpio_field(file + off, 11, &namesize) ||
        namesize < 2 || namesize > CPIO_NAME_MAX)
        return false;
    size_t name_off = off + CPIO_HDR;
    if (len - name_off < namesize || file[name_off + namesize - 1] != '\0' ||
        memchr(file + name_off, '\0', namesize - 1) != NULL)
        return false;
    e->name = (const char *)file + name_off;
    e->data_off = off + pad4(CPIO_HDR + namesize);
    if (e->data_off > len || len - e->data_off < filesize)
        return false;
    e->data_len = filesize;
    e->next = e->data_off + pad4(filesize);
    return true;
}

bool ald_swu_is(const uint8_t *file, size_t len)
{
    static const char first[] = "sw-description";
    return len >= CPIO_HDR + sizeof first && memcmp(file, "070702", 6) == 0 &&
           memcmp(file + CPIO_HDR, first, sizeof first) == 0;
}

bool ald_swu_image(const struct ald_image_rec *rec)
{
    return rec->platform == ALC_PLATFORM_LINUX;
}

/* The value of the first `version` setting of sw-description (libconfig `version =
 * "1.2.0";` or JSON `"version": "1.2.0"`) into out; false if there is none that fits. */
static bool desc_version(const char *d, size_t n, char *out, size_t cap)
{
    for (size_t i = 0; i + 7 <= n; i++) {
        if (memcmp(d + i, "version", 7) != 0)
            continue;
        if (i > 0 && (d[i - 1] == '_' || d[i - 1] == '-' || (d[i - 1] >= 'a' && d[i - 1] <= 'z')))
            continue;
        size_t k = i + 7;
        if (k < n && d[k] == '"')
            k++;
        while (k < n && (d[k] == ' ' || d[k] == '\t'))
            k++;
        if (k >= n || (d[k] != '=' && d[k] != ':'))
            continue;
        k++;
        while (k < n && (d[k] == ' ' || d[k] == '\t'))
            k++;
        if (k >= n || d[k] != '"')
            continue;
        size_t start = ++k;
        while (k < n && d[k] != '"' && d[k] != '\n')
            k++;
        if (k >= n || d[k] != '"' || k - start >= cap)
            return false;
        memcpy(out, d + start, k - start);
        out[k - start] = '\0';
        return true;
    }
    return false;
}

bool ald_swu_describe(const uint8_t *file, size_t len, struct ald_image_rec *rec, char *code,
                      size_t codelen, char *msg, size_t msglen)
{
    struct entry e, desc;
    size_t off = 0, count = 0;
    char version[AL_VERSION_STR_MAX];
    struct al_version v;
    uint8_t id[32];

    memset(rec, 0, sizeof *rec);
    snprintf(code, codelen, "bad_swu");
    if (!ald_swu_is(file, len) || !cpio_entry(file, len, 0, &desc)) {
        snprintf(msg, msglen, "not a .swu file: it must be a cpio archive in the CRC format "
                 "(cpio -H crc, magic 070702) whose first entry is sw-description");
        return false;
    }
    if (desc.data_len == 0 || desc.data_len > ALD_SWU_DESC_MAX) {
        snprintf(msg, msglen, ".swu: sw-description is %zu bytes; it must hold 1 to %u",
                 desc.data_len, (unsigned)ALD_SWU_DESC_MAX);
        return false;
    }
    for (;;) {
        if (!cpio_entry(file, len, off, &e)) {
            snprintf(msg, msglen, ".swu: the cpio entry at byte %zu is malformed or truncated "
                     "(after %zu entries)", off, count);
            return false;
        }
        if (!strcmp(e.name, "TRAILER!!!"))
            break;
        count++;
        off = e.next;
    }
    if (!desc_version((const char *)file + desc.data_off, desc.data_len, version,
                      sizeof version)) {
        snprintf(code, codelen, "bad_swu_version");
        snprintf(msg, msglen, ".swu: sw-description has no version setting "
                 "(version = \"1.2.0\";)");
        return false;
    }
    if (al_version_parse(version, strlen(version), &v) != AL_OK) {
        snprintf(code, codelen, "bad_swu_version");
        snprintf(msg, msglen, ".swu: sw-description's version \"%.40s\" is not a semantic "
                 "version (1.2.0)", version);
        return false;
    }
    ald_sha256(file, len, id);
    alc_hex_encode(id, 32, rec->id);
    memcpy(rec->sha256, rec->id, sizeof rec->sha256);
    rec->platform = ALC_PLATFORM_LINUX;
    al_version_format(&v, rec->version, sizeof rec->version);
    if (!ald_version_sort_key(&v, rec->version_key, sizeof rec->version_key)) {
        snprintf(code, codelen, "bad_swu_version");
        snprintf(msg, msglen, ".swu: version %s cannot be ordered", rec->version);
        return false;
    }
    rec->payload_size = (uint32_t)len;
    rec->file_size = len;
    snprintf(rec->deps_json, sizeof rec->deps_json, "[]");
    code[0] = msg[0] = '\0';
    return true;
}
