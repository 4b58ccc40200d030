/* crc32.c - CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) for journal records.
 * Bitwise: a few dozen bytes of code instead of a 1 KiB table; records are short. */
#include "install_priv.h"

uint32_t al_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}
