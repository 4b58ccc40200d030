/*
 * fuzz_query.c - libFuzzer harness for the checks of the API's small values: path segments,
 * query parameters (limit, after, update, rollout, device, platform, sha256, ...) and the
 * Last-Event-ID header all reach the handlers as text that common/ validates (parse.c,
 * name.c, platform.c, hex.c; times are fuzz_time.c's). Any text is refused or read into
 * its canonical value: an id or integer prints back as the same text, a name holds only
 * its characters, a platform name or id maps back to itself.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift_common/hex.h"
#include "airlift_common/name.h"
#include "airlift_common/parse.h"
#include "airlift_common/platform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_text(const char *s, int64_t v)
{
    char back[32];
    snprintf(back, sizeof back, "%" PRId64, v);
    if (strcmp(back, s) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[160];
    int64_t v;
    uint32_t u;
    uint16_t id;
    uint8_t hash[32];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = '\0';

    if (alc_parse_id(s, false, &v) && (v < 1 || (same_text(s, v), 0)))
        abort();
    if (alc_parse_id(s, true, &v) && (v < 0 || (same_text(s, v), 0)))
        abort();
    if (alc_parse_i64(s, -1000, 1000, &v) && (v < -1000 || v > 1000 || (same_text(s, v), 0)))
        abort();
    if (alc_parse_u32(s, 0xffff, &u) && u > 0xffff)
        abort();
    if (alc_name_valid(s)) {
        if (strlen(s) < 1 || strlen(s) > ALC_NAME_MAX ||
            strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
                strlen(s) || s[0] == '.' || s[0] == '_' || s[0] == '-')
            abort();
    }
    if (alc_platform_parse(s, &id)) {
        const char *name = alc_platform_name(id);
        uint16_t again;
        if (name && alc_platform_by_name(name, &again) && again != id)
            abort();
    }
    if (alc_hex_decode(s, hash, sizeof hash) && !alc_is_hex(s, 2 * sizeof hash))
        abort();
    return 0;
}
