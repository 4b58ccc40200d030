/*
 * test_swu.c - issue 14 (ddi): server/core/swu.c, the .swu archives airliftd takes as
 * images (docs/ddi.md, ".swu images"): a cpio "new ASCII with CRC" archive whose first entry
 * is sw-description, its structure checked to the trailer and its version read. Archives
 * are built here, byte by byte, as `cpio -H crc` writes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "airlift_common/platform.h"
#include "swu.h"

struct archive {
    uint8_t buf[8192];
    size_t len;
};

static void pad(struct archive *a)
{
    while (a->len % 4)
        a->buf[a->len++] = 0;
}

/* One entry: the 110-byte header, the name and its NUL, padding, the data, padding. */
static void add(struct archive *a, const char *name, const char *data)
{
    size_t dlen = strlen(data), nlen = strlen(name) + 1;
    char hdr[160];
    snprintf(hdr, sizeof hdr, "070702%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
             1u, 0100644u, 0u, 0u, 1u, 0u, (unsigned)dlen, 0u, 0u, 0u, 0u, (unsigned)nlen, 0u);
    memcpy(a->buf + a->len, hdr, 110);
    a->len += 110;
    memcpy(a->buf + a->len, name, nlen);
    a->len += nlen;
    pad(a);
    memcpy(a->buf + a->len, data, dlen);
    a->len += dlen;
    pad(a);
}

static void build(struct archive *a, const char *desc)
{
    memset(a, 0, sizeof *a);
    add(a, "sw-description", desc);
    add(a, "sw-description.sig", "signature");
    add(a, "payload.bin", "hello");
    add(a, "TRAILER!!!", "");
}

static const char desc_ok[] =
    "software = {\n  version = \"1.2.0\";\n  hardware-compatibility = [ \"1.0\" ];\n"
    "  files: ( { filename = \"payload.bin\"; path = \"/tmp/x\"; version = \"9.9.9\"; } );\n};\n";

static void test_good(void **state)
{
    struct archive a;
    struct ald_image_rec rec;
    char code[32], msg[256];
    (void)state;
    build(&a, desc_ok);
    assert_true(ald_swu_is(a.buf, a.len));
    assert_true(ald_swu_describe(a.buf, a.len, &rec, code, sizeof code, msg, sizeof msg));
    assert_string_equal(rec.version, "1.2.0"); /* the first version setting, not a file's */
    assert_int_equal(rec.platform, ALC_PLATFORM_LINUX);
    assert_true(ald_swu_image(&rec));
    assert_string_equal(rec.id, rec.sha256);
    assert_int_equal(rec.file_size, a.len);
    assert_string_equal(rec.deps_json, "[]");
}

static void test_json_description(void **state)
{
    struct archive a;
    struct ald_image_rec rec;
    char code[32], msg[256];
    (void)state;
    build(&a, "{\"software\": {\"version\": \"2.0.0-rc.1\", \"description\": \"x\"}}");
    assert_true(ald_swu_describe(a.buf, a.len, &rec, code, sizeof code, msg, sizeof msg));
    assert_string_equal(rec.version, "2.0.0-rc.1");
}

static void test_refused(void **state)
{
    struct archive a;
    struct ald_image_rec rec;
    char code[32], msg[256];
    (void)state;

    build(&a, desc_ok); /* cut before the trailer */
    assert_false(ald_swu_describe(a.buf, a.len - 120, &rec, code, sizeof code, msg, sizeof msg));
    assert_string_equal(code, "bad_swu");
    assert_non_null(strstr(msg, "malformed or truncated"));

    build(&a, desc_ok); /* a size field that is not hex */
    memcpy(a.buf + 6 + 8 * 6, "0000zz00", 8);
    assert_false(ald_swu_describe(a.buf, a.len, &rec, code, sizeof code, msg, sizeof msg));
    assert_string_equal(code, "bad_swu");

    build(&a, "software = { description = \"no version\"; };");
    assert_false(ald_swu_describe(a.buf, a.len, &rec, code, sizeof code, msg, sizeof msg));
    assert_string_equal(code, "bad_swu_version");
    assert_non_null(strstr(msg, "no version setting"));

    build(&a, "software = { version = \"1.2\"; };");
    assert_false(ald_swu_describe(a.buf, a.len, &rec, code, sizeof code, msg, sizeof msg));
    assert_string_equal(code, "bad_swu_version");
    assert_non_null(strstr(msg, "not a semantic version"));

    memset(&a, 0, sizeof a); /* first entry not sw-description: not a .swu at all */
    add(&a, "payload.bin", "hello");
    add(&a, "TRAILER!!!", "");
    assert_false(ald_swu_is(a.buf, a.len));
    assert_false(ald_swu_describe(a.buf, a.len, &rec, code, sizeof code, msg, sizeof msg));
    assert_non_null(strstr(msg, "not a .swu file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_json_description),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
