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
    if (alh_particle_check(data, size, &m, err, sizeof(err)) != ALH_PARTICLE_OK &&
        err[0] == '\0')
        abort();
    alh_particle_version_label(m.function, m.version, m.platform_id, label, sizeof(label));
    memset(&h, 0, sizeof(h));
    (void)alh_particle_to_header(&m, NULL, &h, err, sizeof(err));
    return 0;
}
