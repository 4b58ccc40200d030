/*
 * flashio.c - region-relative flash access and image checks on flash.
 *
 * Slot format: payload at region offset 0 (so it runs at the slot's link address), the image
 * header at offset (slot size - AL_SLOT_HEADER_AREA). The backup region stores a slot at the
 * same offsets as the slot it belongs to.
 */
#include <string.h>

#include "install_priv.h"

#define AL_MAX_WRITE_SIZE 32u /* largest program granularity the engine supports */

al_err al_region_read(const struct al_region *r, uint32_t off, void *buf, size_t len)
{
    if (off > r->size || len > r->size - off)
        return AL_ERR_OUT_OF_RANGE;
    return r->flash->read(r->flash->ctx, r->addr + off, buf, len);
}

/* Program len bytes at off; a trailing partial write unit is padded with the erased value,
 * which leaves those bytes untouched on NOR. */
al_err al_region_program(const struct al_region *r, uint32_t off, const void *buf, size_t len)
{
    const struct al_flash *f = r->flash;
    uint32_t ws = f->write_size;
    if (off > r->size || len > r->size - off)
        return AL_ERR_OUT_OF_RANGE;
    if (ws == 0 || ws > AL_MAX_WRITE_SIZE || off % ws)
        return AL_ERR_ALIGNMENT;
    size_t whole = len - len % ws;
    al_err err = AL_OK;
    if (whole)
        err = f->program(f->ctx, r->addr + off, buf, whole);
    if (err == AL_OK && whole < len) {
        uint8_t unit[AL_MAX_WRITE_SIZE];
        memset(unit, f->erased_value, ws);
        memcpy(unit, (const uint8_t *)buf + whole, len - whole);
        if (off + whole + ws > r->size)
            return AL_ERR_OUT_OF_RANGE;
        err = f->program(f->ctx, r->addr + off + (uint32_t)whole, unit, ws);
    }
    return err;
}

/* Erase every sector of r overlapping [off, off + len). */
static al_err region_erase_range(const struct al_region *r, uint32_t off, uint32_t len)
{
    uint32_t pos = 0;
    while (pos < r->size) {
        uint32_t sector = al_flash_sector_size(r->flash, r->addr + pos);
        if (sector == 0)
            return AL_ERR_BAD_LAYOUT;
        if (pos < off + len && pos + sector > off) {
            al_err err = r->flash->erase(r->flash->ctx, r->addr + pos);
            if (err != AL_OK)
                return err;
        }
        pos += sector;
    }
    return AL_OK;
}

al_err al_region_erase(const struct al_region *r, uint32_t len)
{
    return region_erase_range(r, 0, len);
}

/* Copy [src_off, src_off + len) of src to dst_off of dst, through the scratch buffer. */
static al_err copy_range(struct al_device *dev, const struct al_region *src, uint32_t src_off,
                         const struct al_region *dst, uint32_t dst_off, uint32_t len)
{
    uint32_t ws = dst->flash->write_size;
    size_t chunk = dev->cfg.scratch_len - dev->cfg.scratch_len % ws;
    for (uint32_t done = 0; done < len;) {
        size_t n = len - done < chunk ? len - done : chunk;
        al_err err = al_region_read(src, src_off + done, dev->cfg.scratch, n);
        if (err == AL_OK)
            err = al_region_program(dst, dst_off + done, dev->cfg.scratch, n);
        if (err != AL_OK)
            return err;
        done += (uint32_t)n;
    }
    return AL_OK;
}

al_err al_slot_copy(struct al_device *dev, const struct al_region *src,
                    const struct al_region *dst, const struct al_region *slot,
                    uint32_t payload_size)
{
    uint32_t hdr_off = slot->size - AL_SLOT_HEADER_AREA;
    al_err err = region_erase_range(dst, 0, payload_size);
    if (err == AL_OK)
        err = region_erase_range(dst, hdr_off, AL_SLOT_HEADER_AREA);
    if (err == AL_OK)
        err = copy_range(dev, src, 0, dst, 0, payload_size);
    if (err == AL_OK)
        err = copy_range(dev, src, hdr_off, dst, hdr_off, AL_SLOT_HEADER_AREA);
    return err;
}

static al_err region_read_fn(void *ctx, uint32_t off, void *buf, size_t len)
{
    return al_region_read(ctx, off, buf, len);
}

/* Staging read that starts at the payload: ctx is the staging region, offsets shifted. */
struct shifted_reader {
    const struct al_region *r;
    uint32_t shift;
};

static al_err shifted_read_fn(void *ctx, uint32_t off, void *buf, size_t len)
{
    const struct shifted_reader *s = ctx;
    return al_region_read(s->r, s->shift + off, buf, len);
}

static al_err authenticate(struct al_device *dev, const uint8_t *hdr, const struct al_image_header *h)
{
    struct al_verify_params p = {dev->cfg.crypto, dev->cfg.keys, dev->cfg.platform};
    return al_image_authenticate(&p, hdr, h);
}

/* Checks an image header against the slot it is meant for. */
static al_err check_fits_slot(const struct al_image_header *h, const struct al_region *slot)
{
    if (h->function != slot->function ||
        (h->function != AL_FN_BOOTLOADER && h->index != slot->index))
        return AL_ERR_NO_SLOT;
    if (h->payload_size > al_slot_payload_max(slot))
        return AL_ERR_TOO_LARGE;
    if (h->link_address != slot->link_address)
        return AL_ERR_LINK_ADDRESS;
    return AL_OK;
}

al_err al_slot_verify(struct al_device *dev, const struct al_region *r,
                      const struct al_region *expect, struct al_image_header *out)
{
    uint8_t hdr[AL_IMAGE_MAX_HEADER];
    uint32_t hdr_off = expect->size - AL_SLOT_HEADER_AREA;
    al_err err = al_region_read(r, hdr_off, hdr, sizeof hdr);
    if (err == AL_OK)
        err = al_image_parse_header(hdr, sizeof hdr, out);
    if (err == AL_OK)
        err = check_fits_slot(out, expect);
    if (err == AL_OK)
        err = authenticate(dev, hdr, out);
    if (err == AL_OK)
        err = al_image_check_payload(dev->cfg.crypto, out, region_read_fn, (void *)r, 0,
                                     dev->cfg.scratch, dev->cfg.scratch_len);
    return err;
}

al_err al_staging_verify(struct al_device *dev, struct al_image_header *out,
                         const struct al_region **target)
{
    const struct al_region *staging = al_layout_find(dev->cfg.layout, AL_REGION_STAGING);
    uint8_t hdr[AL_IMAGE_MAX_HEADER];
    const struct al_region *slot;
    al_err err = al_region_read(staging, 0, hdr, sizeof hdr);
    if (err == AL_OK)
        err = al_image_parse_header(hdr, sizeof hdr, out);
    if (err != AL_OK)
        return err;
    if ((uint64_t)out->header_size + out->payload_size > staging->size)
        return AL_ERR_TOO_LARGE;
    err = authenticate(dev, hdr, out);
    if (err != AL_OK)
        return err;
    if (out->function == AL_FN_BOOTLOADER)
        slot = al_bootloader_copy(dev, (uint8_t)(dev->state.bootloader_active ^ 1u));
    else
        slot = al_layout_slot(dev->cfg.layout, out->function, out->index);
    if (slot == NULL)
        return AL_ERR_NO_SLOT;
    err = check_fits_slot(out, slot);
    if (err != AL_OK)
        return err;
    struct shifted_reader rd = {staging, out->header_size};
    err = al_image_check_payload(dev->cfg.crypto, out, shifted_read_fn, &rd, 0, dev->cfg.scratch,
                                 dev->cfg.scratch_len);
    if (err != AL_OK)
        return err;
    if (target)
        *target = slot;
    return AL_OK;
}

al_err al_staging_install(struct al_device *dev, const struct al_image_header *h,
                          const struct al_region *dst)
{
    const struct al_region *staging = al_layout_find(dev->cfg.layout, AL_REGION_STAGING);
    uint32_t hdr_off = dst->size - AL_SLOT_HEADER_AREA;
    uint8_t hdr[AL_IMAGE_MAX_HEADER];
    al_err err = region_erase_range(dst, 0, h->payload_size);
    if (err == AL_OK)
        err = region_erase_range(dst, hdr_off, AL_SLOT_HEADER_AREA);
    if (err == AL_OK)
        err = copy_range(dev, staging, h->header_size, dst, 0, h->payload_size);
    /* The header goes last: a slot cut short before this has no header and reads as empty. */
    if (err == AL_OK)
        err = al_region_read(staging, 0, hdr, h->header_size);
    if (err == AL_OK)
        err = al_region_program(dst, hdr_off, hdr, h->header_size);
    return err;
}
