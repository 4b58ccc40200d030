/*
 * airlift_delta.c - airlift-delta: make and apply delta streams from files.
 *   airlift-delta encode OLD NEW OUT     patch from OLD to NEW
 *   airlift-delta compress IN OUT        compressed full image
 *   airlift-delta decode [OLD] IN OUT    run the device decoder (OLD for a patch)
 * Options before the command: --fast (LZMA preset 6), --thumb=0|1 (default: try both),
 * --map=0|1 (address map), --data=0|1 (data pointers in the map; default: try both),
 * --block=BYTES (target stream bytes per block), --lzma=LC,LP,PB, --primary=BYTES (OLD is
 * that many bytes of the slot's own old image followed by other modules the device also
 * reads, encoding 3 of docs/protocol.md; links and map come from the first part).
 * Exit codes: 0 ok, 1 failure (message on stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/delta.h"
#include "airlift/error.h"
#include "airlift_common/buf.h"
#include "airlift_host/delta.h"

#define MAX_FILE (64u * 1024 * 1024)

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct alc_buf b;
    uint8_t block[1 << 16];
    size_t n;
    int bad = 0;
    if (!f) {
        perror(path);
        return -1;
    }
    alc_buf_init(&b, MAX_FILE - 1);
    while (!bad && (n = fread(block, 1, sizeof block, f)) > 0)
        bad = alc_buf_append(&b, block, n) != ALC_BUF_OK;
    bad = bad || ferror(f) || alc_buf_reserve(&b, 0) != ALC_BUF_OK; /* an empty file too */
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: cannot read (or larger than %u bytes)\n", path, MAX_FILE - 1);
        alc_buf_free(&b);
        return -1;
    }
    *data = alc_buf_take(&b, len);
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: airlift-delta [--fast] [--thumb=0|1] [--map=0|1] [--data=0|1] [--block=N] [--lzma=LC,LP,PB] [--primary=N]\n"
                    "         encode OLD NEW OUT | compress IN OUT | decode [OLD] IN OUT\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct alh_delta_opts o;
    uint8_t *a = NULL, *b = NULL, *out = NULL;
    size_t alen = 0, blen = 0, olen = 0;
    char err[200] = "";
    int i = 1, rc = 1;
    alh_delta_opts_default(&o);
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--fast") == 0)
            o.fast = 1;
        else if (strncmp(argv[i], "--thumb=", 8) == 0)
            o.thumb = argv[i][8] == '1';
        else if (strncmp(argv[i], "--map=", 6) == 0)
            o.map = argv[i][6] == '1';
        else if (strncmp(argv[i], "--data=", 7) == 0)
            o.data = argv[i][7] == '1';
        else if (strncmp(argv[i], "--block=", 8) == 0)
            o.block_target = (uint32_t)strtoul(argv[i] + 8, NULL, 10);
        else if (strncmp(argv[i], "--primary=", 10) == 0)
            o.old_primary = (size_t)strtoul(argv[i] + 10, NULL, 10);
        else if (strncmp(argv[i], "--lzma=", 7) == 0) {
            if (sscanf(argv[i] + 7, "%d,%d,%d", &o.lc, &o.lp, &o.pb) != 3)
                return usage();
        } else
            return usage();
    }
    if (i >= argc)
        return usage();
    const char *cmd = argv[i++];
    int n = argc - i;
    if (strcmp(cmd, "encode") == 0 && n == 3) {
        if (read_file(argv[i], &a, &alen) || read_file(argv[i + 1], &b, &blen))
            goto out;
        if (alh_delta_encode(a, alen, b, blen, &o, &out, &olen, err, sizeof err) != 0) {
            fprintf(stderr, "airlift-delta: %s\n", err);
            goto out;
        }
        rc = write_file(argv[i + 2], out, olen) ? 1 : 0;
    } else if (strcmp(cmd, "compress") == 0 && n == 2) {
        if (read_file(argv[i], &b, &blen))
            goto out;
        if (alh_delta_encode(NULL, 0, b, blen, &o, &out, &olen, err, sizeof err) != 0) {
            fprintf(stderr, "airlift-delta: %s\n", err);
            goto out;
        }
        rc = write_file(argv[i + 1], out, olen) ? 1 : 0;
    } else if (strcmp(cmd, "decode") == 0 && (n == 2 || n == 3)) {
        if ((n == 3 && read_file(argv[i++], &a, &alen)) || read_file(argv[i], &b, &blen))
            goto out;
        int e = alh_delta_decode(a, alen, b, blen, 0, &out, &olen);
        if (e != 0) {
            fprintf(stderr, "airlift-delta: decode failed: %s (%s)\n", al_strerror((al_err)e),
                    al_err_name((al_err)e));
            goto out;
        }
        rc = write_file(argv[i + 1], out, olen) ? 1 : 0;
    } else {
        rc = usage();
    }
out:
    free(a);
    free(b);
    free(out);
    return rc;
}
