/* crc32.h - CRC-32 (IEEE 802.3, reflected, as zlib and xz) for journal records and delta streams. */
#ifndef AL_CRC32_H
#define AL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of data continued from crc (0 to start). */
uint32_t al_crc32(uint32_t crc, const void *data, size_t len);

#endif
