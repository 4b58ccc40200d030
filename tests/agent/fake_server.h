/*
 * fake_server.h - a stand-in for airliftd's planner, for device-side tests: it wants one
 * target image installed and answers inventories with a one-step plan until the device
 * reports running it. The real planner is in server/.
 */
#ifndef AIRLIFT_TEST_FAKE_SERVER_H
#define AIRLIFT_TEST_FAKE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/proto.h"
#include "harness.h"

struct fake_server {
    const struct test_image *target;
    uint32_t plan_id;
    bool force_step;  /* plan the step even if the device runs it (a buggy server) */
    bool corrupt;     /* serve a flipped byte in the middle */
    uint8_t *stream;  /* if set: send this compressed or delta stream, not the image file */
    size_t stream_len;
    uint8_t encoding; /* of the stream: AL_ENC_COMPRESSED, AL_ENC_DELTA or AL_ENC_DELTA_SLOTS */
    uint32_t bytes_served;
    struct al_inventory last_inventory;
    int inventories;
    struct al_status statuses[64];
    int status_count;
};

bool fake_runs(const struct al_inventory *inv, const struct test_image *img);
/* Returns a CoAP code (68, or 128 for a malformed inventory). */
int fake_inventory(struct fake_server *s, const uint8_t *req, size_t len, uint8_t *plan,
                   size_t cap, size_t *plan_len);
int fake_status(struct fake_server *s, const uint8_t *req, size_t len);
/* The transfer of (plan, step), or NULL. With corrupt, one byte in its middle is flipped
 * until fake_restore. */
const uint8_t *fake_transfer(struct fake_server *s, uint32_t plan, uint8_t step, size_t *len);
void fake_restore(struct fake_server *s);

#endif
