/*
 * factory.h - factory programming: put an image straight into a slot, as a production line's
 * programmer would, bypassing staging and the install engine.
 */
#ifndef AIRLIFT_SIM_FACTORY_H
#define AIRLIFT_SIM_FACTORY_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/layout.h"

/*
 * Erase slot r and write an image file's payload at its start and its header at
 * (size - AL_SLOT_HEADER_AREA): the slot format of docs/install-engine.md. img is the whole
 * image file; header_size and payload_size come from its parsed header. Returns 0, or -1
 * if a flash operation failed or the image does not fit.
 */
int sim_factory_program(const struct al_region *r, const uint8_t *img, uint32_t header_size,
                        uint32_t payload_size);

#endif
