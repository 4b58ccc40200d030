/*
 * airlift/thumb2.h - the ARM Thumb-2 BL / B.W branch fields that the delta format
 * (docs/delta-format.md) rewrites, shared by the device's decoder and the host's encoder
 * so that both read and write them identically.
 */
#ifndef AIRLIFT_THUMB2_H
#define AIRLIFT_THUMB2_H

#include <stdint.h>

/* A 32-bit BL or B.W starts here: first halfword 11110..., second 1x111... (J1 = J2 = 1).
 * b1 and b3 are bytes 1 and 3 of the little-endian instruction. */
static inline int al_thumb2_is_branch(uint8_t b1, uint8_t b3)
{
    return (b1 & 0xF8) == 0xF0 && (b3 & 0xB8) == 0xB8;
}

/* The 22-bit halfword offset (or target) field of the branch in w[0..3]. */
static inline uint32_t al_thumb2_branch_get(const uint8_t *w)
{
    return (uint32_t)(w[1] & 7) << 19 | (uint32_t)w[0] << 11 | (uint32_t)(w[3] & 7) << 8 | w[2];
}

/* Set that field to the low 22 bits of v. */
static inline void al_thumb2_branch_set(uint8_t *w, uint32_t v)
{
    w[1] = (uint8_t)((w[1] & 0xF8) | ((v >> 19) & 7));
    w[0] = (uint8_t)(v >> 11);
    w[3] = (uint8_t)((w[3] & 0xF8) | ((v >> 8) & 7));
    w[2] = (uint8_t)v;
}

#endif
