/*
 * fuzz_proto.c - libFuzzer harness for the device protocol decoders. The server decodes
 * inventories and status reports from the network, the device decodes plans: any input
 * must be refused or decoded, and whatever decodes must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t again[AL_PROTO_INVENTORY_MAX > AL_PROTO_PLAN_MAX ? AL_PROTO_INVENTORY_MAX : AL_PROTO_PLAN_MAX];
    size_t n = 0;
    struct al_inventory inv;
    struct al_plan plan;
    struct al_status st;
    if (al_inventory_decode(data, size, &inv) == AL_OK &&
        (al_inventory_encode(&inv, again, sizeof again, &n) != AL_OK || n != size ||
         memcmp(again, data, n) != 0))
        abort();
    if (al_plan_decode(data, size, &plan) == AL_OK &&
        (al_plan_encode(&plan, again, sizeof again, &n) != AL_OK || n != size || memcmp(again, data, n) != 0))
        abort();
    if (al_status_decode(data, size, &st) == AL_OK &&
        (al_status_encode(&st, again, sizeof again, &n) != AL_OK || n != size || memcmp(again, data, n) != 0))
        abort();
    return 0;
}
