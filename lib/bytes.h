/* bytes.h - little-endian field access for every on-flash and on-wire format of libairlift. */
#ifndef AL_BYTES_H
#define AL_BYTES_H

#include <stdint.h>

static inline void al_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void al_put32(uint8_t *p, uint32_t v)
{
    al_put16(p, (uint16_t)v);
    al_put16(p + 2, (uint16_t)(v >> 16));
}

static inline uint16_t al_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t al_get32(const uint8_t *p)
{
    return (uint32_t)al_get16(p) | (uint32_t)al_get16(p + 2) << 16;
}

#endif
