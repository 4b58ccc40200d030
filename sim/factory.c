/* factory.c - see factory.h. */
#include "factory.h"

#include <string.h>

static int program(const struct al_region *r, uint32_t off, const uint8_t *data, size_t len)
{
    const struct al_flash *f = r->flash;
    uint8_t unit[64];
    size_t whole = len - len % f->write_size;
    if (f->write_size > sizeof unit)
        return -1;
    if (whole && f->program(f->ctx, r->addr + off, data, whole) != AL_OK)
        return -1;
    if (whole < len) {
        memset(unit, f->erased_value, f->write_size);
        memcpy(unit, data + whole, len - whole);
        if (f->program(f->ctx, r->addr + off + (uint32_t)whole, unit, f->write_size) != AL_OK)
            return -1;
    }
    return 0;
}

int sim_factory_program(const struct al_region *r, const uint8_t *img, uint32_t header_size,
                        uint32_t payload_size)
{
    const struct al_flash *f = r->flash;
    if (payload_size > al_slot_payload_max(r) || header_size > AL_SLOT_HEADER_AREA)
        return -1;
    for (uint32_t pos = 0; pos < r->size;) {
        uint32_t sector = al_flash_sector_size(f, r->addr + pos);
        if (sector == 0 || f->erase(f->ctx, r->addr + pos) != AL_OK)
            return -1;
        pos += sector;
    }
    if (program(r, 0, img + header_size, payload_size) != 0)
        return -1;
    return program(r, r->size - AL_SLOT_HEADER_AREA, img, header_size);
}
