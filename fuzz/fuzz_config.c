/*
 * fuzz_config.c - libFuzzer harness for airliftd's settings (server/config.c): any bytes as
 * the --config file, as one HOST:PORT address, as a store URL to redact, and as a command
 * line (one argument a line, none naming a config file). Each is loaded or refused with a
 * message; none may crash, read out of bounds or leave a message unterminated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARGS_MAX 16

static char path[64];
static int fd = -1;

static void remove_file(void)
{
    if (fd >= 0)
        unlink(path);
}

/* The input as the --config file. */
static void as_file(const uint8_t *data, size_t size)
{
    struct ald_config cfg;
    char err[512];
    char *argv[] = {"airliftd", "--config", path, NULL};
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    err[0] = '\0';
    if (ald_config_load(&cfg, 3, argv, err, sizeof err) != 0 && !err[0])
        abort(); /* a refusal always says why */
}

/* The input as text: an address, a URL, and argv lines. */
static void as_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *argv[ARGS_MAX + 2], err[512], shown[160];
    struct ald_listen l;
    struct ald_config cfg;
    int argc = 1;
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    if (ald_listen_parse(text, &l) && strlen(l.host) >= sizeof l.host)
        abort();
    ald_url_redact(text, shown, sizeof shown);
    if (strlen(shown) >= sizeof shown)
        abort();
    argv[0] = "airliftd";
    for (char *at = text; at && argc <= ARGS_MAX; argc++) {
        char *nl = strchr(at, '\n');
        if (nl)
            *nl = '\0';
        argv[argc] = at;
        at = nl ? nl + 1 : NULL;
    }
    argv[argc] = NULL;
    for (int i = 1; i < argc; i++)
        if (strstr(argv[i], "config")) /* no file of the fuzzer's choosing is read */
            goto out;
    err[0] = '\0';
    if (ald_config_load(&cfg, argc, argv, err, sizeof err) != 0 && !err[0])
        abort();
out:
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        snprintf(path, sizeof path, "/tmp/fuzz_config.XXXXXX");
        if ((fd = mkstemp(path)) < 0)
            abort();
        atexit(remove_file);
    }
    as_file(data, size);
    as_text(data, size);
    return 0;
}
