/*
 * fuzz_delta.c - libFuzzer harness for the delta decoder (lib/delta.c): any stream, fed in
 * pieces, against a fixed old image, must end in AL_OK or a defined error, never a crash,
 * an out-of-bounds access, a write outside the declared output, a write twice or a hang.
 * The first input byte picks the piece size (bits 0-6) and the old image (bit 7: one that
 * looks like firmware, with code and data pointers, for the address map's transforms); the
 * output is capped at 64 KiB.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OLD_SIZE 4096
#define OUT_CAP (64u * 1024)

struct fz {
    uint8_t old[OLD_SIZE];
    uint8_t out[OUT_CAP];
    uint32_t written, cap;
};

static al_err fz_read_old(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    struct fz *f = ctx;
    if (off > OLD_SIZE || len > OLD_SIZE - off)
        abort();
    memcpy(buf, f->old + off, len);
    return AL_OK;
}

static al_err fz_read_new(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
    struct fz *f = ctx;
    if (off > f->written || len > f->written - off)
        abort();
    memcpy(buf, f->out + off, len);
    return AL_OK;
}

static al_err fz_write_new(void *ctx, uint32_t off, const uint8_t *buf, size_t len)
{
    struct fz *f = ctx;
    if (off != f->written || off % AL_DELTA_WRITE_ALIGN || len > f->cap - off)
        abort(); /* out of order, misaligned, twice, or beyond the declared size */
    if (len > OUT_CAP - off)
        return AL_ERR_TOO_LARGE; /* the harness's own cap */
    memcpy(f->out + off, buf, len);
    f->written += (uint32_t)len;
    return AL_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz f;
    static struct al_delta st;
    struct al_delta_header h;
    if (size < 1)
        return 0;
    size_t piece = 1 + (data[0] & 0x7F) % 64;
    int firmware = data[0] & 0x80;
    data++;
    size--;
    for (unsigned i = 0; i < OLD_SIZE; i++)
        f.old[i] = (uint8_t)(i * 7 + (i >> 5));
    for (unsigned k = 0; firmware && k < OLD_SIZE / 4; k++) {
        /* every 4th word a pointer to code at 0x08000000, every 4th (offset by 2) to RAM */
        uint32_t w = k % 4 == 1 ? 0x08000001u + (k * 12 % OLD_SIZE) : k % 4 == 3 ? 0x20000000u + k % 256 * 4 : 0;
        for (unsigned b = 0; w && b < 4; b++)
            f.old[4 * k + b] = (uint8_t)(w >> (8 * b));
    }
    f.written = 0;
    f.cap = UINT32_MAX;
    if (al_delta_parse_header(data, size, &h) == AL_OK) {
        if (h.new_size > OUT_CAP)
            return 0; /* keep runs short */
        f.cap = h.new_size;
    }
    struct al_delta_io io = {&f, fz_read_old, fz_read_new, fz_write_new, size >= 12 && data[5] ? OLD_SIZE : 0};
    if (al_delta_init(&st, &io) != AL_OK)
        abort();
    al_err err = AL_OK;
    for (size_t pos = 0; err == AL_OK && pos < size; pos += piece)
        err = al_delta_feed(&st, data + pos, size - pos < piece ? size - pos : piece);
    if (err == AL_OK)
        err = al_delta_finish(&st);
    if (err == AL_OK && f.written != f.cap)
        abort(); /* success means the whole declared output was written */
    return 0;
}
