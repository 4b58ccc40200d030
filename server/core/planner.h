/*
 * planner.h - what a device needs: from the modules it reports running, the images the user
 * wants on it and the images the server holds, an ordered list of installs that brings it
 * there without ever leaving a dependency broken (docs/planner.md).
 *
 * Pure logic: no I/O, no allocation; the store feeds it, the CoAP endpoint encodes its answer.
 */
#ifndef AIRLIFTD_PLANNER_H
#define AIRLIFTD_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "airlift/image.h"
#include "airlift/install.h"

#define ALD_PLAN_MAX_STEPS 8

/* An image the server holds: its id (images.h: the SHA-256 of its file) and its parsed
 * header. Several images may share a payload (hdr.payload_sha256): signed again with a
 * higher security counter or by another key. */
struct ald_image {
    char id[65];
    struct al_image_header hdr;
};

struct ald_catalog {
    const struct ald_image *images;
    size_t count;
};

enum ald_plan_error {
    ALD_PLAN_OK = 0,
    ALD_PLAN_MISSING_DEPENDENCY = 1, /* no held image satisfies a dependency */
    ALD_PLAN_NO_ORDER = 2,           /* dependencies cannot be met one install at a time */
    ALD_PLAN_TOO_MANY_STEPS = 3,
    ALD_PLAN_WRONG_PLATFORM = 4,     /* a wanted image is for another platform */
    ALD_PLAN_CONFLICT = 5,           /* two wanted images for the same module */
};

struct ald_plan_result {
    enum ald_plan_error error;
    char why[256]; /* for the user: e.g. "system 2 0.7.0 needs bootloader >= 101.0.0; no image held" */
    size_t step_count;
    const struct ald_image *steps[ALD_PLAN_MAX_STEPS]; /* in install order */
};

/*
 * Plan for a device of `platform` running `running` (its inventory's modules) that should
 * run every image in `wanted`. Wanted images already running (same payload hash) produce no
 * step: nothing is ever sent twice (the inventory names payloads, not headers, so a device
 * running a payload is not sent that payload signed again). A step is the wanted image
 * itself (its id, so its own header and security counter travel), never another image of
 * the same payload. Missing dependencies are filled from the catalog with
 * the lowest version that satisfies them (of several images of that version, the highest
 * security counter), recursively (so flashing an application that needs
 * newer system parts and a newer bootloader brings them too).
 */
void ald_plan(uint16_t platform, const struct al_module_status *running, size_t running_count,
              const struct ald_image *const *wanted, size_t wanted_count,
              const struct ald_catalog *catalog, struct ald_plan_result *out);

/*
 * The estimate for a device that never reported what it runs: the wanted images
 * themselves, in install preference order (bootloader, system, radio, application; then
 * index), with no dependency filled or checked (what it runs is unknown; ald_plan makes the
 * real plan from its first inventory). Errors as ald_plan's: another platform, two images
 * for one module, too many.
 */
void ald_plan_unreported(uint16_t platform, const struct ald_image *const *wanted,
                         size_t wanted_count, struct ald_plan_result *out);

#endif
