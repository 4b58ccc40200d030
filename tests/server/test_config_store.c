/*
 * test_config_store.c - airliftd's --store setting (server/config.c): flag and config file,
 * the default, bad values, and URLs with their passwords hidden for logs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static int load(struct ald_config *cfg, char *err, size_t errlen, int argc, ...)
{
    char *argv[16] = {"airliftd"};
    va_list ap;
    va_start(ap, argc);
    for (int i = 1; i < argc && i < 16; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return ald_config_load(cfg, argc, argv, err, errlen);
}

static void test_default_and_flag(void **state)
{
    struct ald_config cfg;
    char err[256], url[ALD_STORE_URL_MAX + 16];
    (void)state;
    assert_int_equal(load(&cfg, err, sizeof err, 3, "--data-dir", "/var/lib/airlift"), 0);
    assert_string_equal(cfg.store_url, "");
    assert_int_equal(ald_config_store_url(&cfg, url, sizeof url), 0);
    assert_string_equal(url, "sqlite:/var/lib/airlift/airlift.db");
    assert_int_equal(ald_config_store_url(&cfg, url, 10), -1);

    assert_int_equal(load(&cfg, err, sizeof err, 3, "--store",
                          "postgresql://airlift@db.example/airlift?sslmode=require"), 0);
    assert_string_equal(cfg.store_url, "postgresql://airlift@db.example/airlift?sslmode=require");
    assert_int_equal(ald_config_store_url(&cfg, url, sizeof url), 0);
    assert_string_equal(url, cfg.store_url);
    assert_int_equal(load(&cfg, err, sizeof err, 2, "--store=sqlite:/tmp/x.db"), 0);
    assert_string_equal(cfg.store_url, "sqlite:/tmp/x.db");
    assert_int_equal(load(&cfg, err, sizeof err, 2, "--store=postgres:///airlift?host=/run/pg"), 0);
}

static void test_bad_values(void **state)
{
    struct ald_config cfg;
    char err[256], *longurl;
    (void)state;
    assert_int_equal(load(&cfg, err, sizeof err, 3, "--store", "mysql://x/y"), -1);
    assert_non_null(strstr(err, "--store"));
    assert_non_null(strstr(err, "mysql://x/y"));
    assert_int_equal(load(&cfg, err, sizeof err, 3, "--store", "sqlite:"), -1);
    assert_int_equal(load(&cfg, err, sizeof err, 3, "--store", ""), -1);
    assert_int_equal(load(&cfg, err, sizeof err, 2, "--store"), -1);
    assert_non_null(strstr(err, "needs a value"));
    /* A rejected value is shown without its password. */
    assert_int_equal(load(&cfg, err, sizeof err, 3, "--store", "postgresql://u:hunter2@h/d b"), -1);
    assert_null(strstr(err, "hunter2"));
    assert_non_null(strstr(err, "u:***@h"));
    longurl = malloc(ALD_STORE_URL_MAX + 20);
    assert_non_null(longurl);
    memset(longurl, 'a', ALD_STORE_URL_MAX + 19);
    memcpy(longurl, "postgresql://", 13);
    longurl[ALD_STORE_URL_MAX + 19] = '\0';
    assert_int_equal(load(&cfg, err, sizeof err, 3, "--store", longurl), -1);
    assert_non_null(strstr(err, "too long"));
    free(longurl);
}

static void test_config_file(void **state)
{
    struct ald_config cfg;
    char path[] = "/tmp/ald-conf.XXXXXX", err[256];
    int fd = mkstemp(path);
    FILE *f;
    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("# settings\nstore = postgresql://airlift:s3cret@10.0.0.5:5433/fleet\n", f);
    fclose(f);
    assert_int_equal(load(&cfg, err, sizeof err, 3, "--config", path), 0);
    assert_string_equal(cfg.store_url, "postgresql://airlift:s3cret@10.0.0.5:5433/fleet");
    /* The flag wins over the file. */
    assert_int_equal(load(&cfg, err, sizeof err, 5, "--store", "sqlite:/x.db", "--config", path),
                     0);
    assert_string_equal(cfg.store_url, "sqlite:/x.db");
    f = fopen(path, "w");
    fputs("store = oracle:x\n", f);
    fclose(f);
    assert_int_equal(load(&cfg, err, sizeof err, 3, "--config", path), -1);
    assert_non_null(strstr(err, ":1: --store"));
    unlink(path);
}

static void redacts(const char *url, const char *want)
{
    char out[256];
    ald_url_redact(url, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_redact(void **state)
{
    char small[12];
    (void)state;
    redacts("sqlite:/var/lib/airlift/airlift.db", "sqlite:/var/lib/airlift/airlift.db");
    redacts("postgresql://db/airlift", "postgresql://db/airlift");
    redacts("postgresql://airlift@db/airlift", "postgresql://airlift@db/airlift");
    redacts("postgresql://airlift:pw@db:5432/airlift", "postgresql://airlift:***@db:5432/airlift");
    redacts("postgres://a:p@ss?w@rd@db/x?sslmode=require",
            "postgres://a:***@db/x?sslmode=require");
    redacts("postgresql:///x?host=/run&password=pw&user=u",
            "postgresql:///x?host=/run&password=***&user=u");
    redacts("postgresql://u:pw@h/x?password=pw#frag", "postgresql://u:***@h/x?password=***#frag");
    redacts("postgresql://h1:5432,h2:5433/x", "postgresql://h1:5432,h2:5433/x");
    ald_url_redact("postgresql://u:secret@host/db", small, sizeof small);
    assert_string_equal(small, "postgresql:");
}

static void test_help(void **state)
{
    (void)state;
    assert_non_null(strstr(ald_usage_text, "--store URL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_and_flag), cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_config_file),      cmocka_unit_test(test_redact),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
