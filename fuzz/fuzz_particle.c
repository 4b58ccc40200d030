/*
 * fuzz_particle.c - libFuzzer harness for the Particle module reader (host/particle.c): find,
 * check and convert any bytes without a crash, an out-of-bounds read or a hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlift_host/particle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alh_particle_module m;
    struct al_image_header h;
    char err[256], label[96];

    if (!alh_particle_find(data, size, &m))
        return 0;
    if (m.start_address >= m.end_address || m.info_offset + ALH_PARTICLE_INFO_SIZE > size)
        abort();
    if (alh_particle_check(data, size, &m, err, sizeof(err)) != ALH_PARTICLE_OK) {
        if (err[0] == '\0')
            abort();
    } else {
        /* The payload of an intact module: inside the file, never empty. */
        size_t off, len;
        (void)alh_particle_written_span(&m, size, &off, &len);
        if (len == 0 || off > size || len > size - off)
            abort();
    }
    alh_particle_version_label(m.function, m.version, m.platform_id, label, sizeof(label));
    memset(&h, 0, sizeof(h));
    if (alh_particle_to_header(&m, NULL, &h, err, sizeof(err)) == ALH_PARTICLE_OK)
        (void)alh_particle_module_label(h.function, h.index, h.platform, &h.version, label,
                                        sizeof(label));
    return 0;
}
