/*
 * planner.c - see planner.h. The same dependency rules as the device's install engine
 * (lib/install.c): an install is possible when the new image's dependencies are met and no
 * other module's dependencies break; the planner orders installs so that each one is.
 */
#include "planner.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_MODULES (AL_MAX_MODULES + ALD_PLAN_MAX_STEPS)

/* One module as the planner simulates the device. hdr is NULL when the server does not
 * hold the running image (its dependencies are then unknown and not checked). */
struct module {
    uint8_t function, index;
    struct al_version version;
    const struct al_image_header *hdr;
};

struct sim {
    struct module m[MAX_MODULES];
    size_t n;
};

static bool same_module(uint8_t fa, uint8_t ia, uint8_t fb, uint8_t ib)
{
    return fa == fb && (fa == AL_FN_BOOTLOADER || ia == ib);
}

static const struct ald_image *by_hash(const struct ald_catalog *c, const uint8_t sha[AL_SHA256_SIZE])
{
    for (size_t i = 0; i < c->count; i++)
        if (memcmp(c->images[i].hdr.payload_sha256, sha, AL_SHA256_SIZE) == 0)
            return &c->images[i];
    return NULL;
}

static struct module *find(struct sim *s, uint8_t function, uint8_t index)
{
    for (size_t i = 0; i < s->n; i++)
        if (same_module(s->m[i].function, s->m[i].index, function, index))
            return &s->m[i];
    return NULL;
}

static void put(struct sim *s, const struct al_image_header *h)
{
    struct module *m = find(s, h->function, h->index);
    if (!m && s->n < MAX_MODULES)
        m = &s->m[s->n++];
    if (m)
        *m = (struct module){h->function, h->index, h->version, h};
}

/* The first dependency of h that s does not meet, or NULL. */
static const struct al_dependency *unmet(const struct sim *s, const struct al_image_header *h)
{
    for (uint8_t d = 0; d < h->dep_count; d++) {
        bool met = false;
        for (size_t i = 0; i < s->n && !met; i++)
            met = al_dependency_met(&h->deps[d], s->m[i].function, s->m[i].index, &s->m[i].version);
        if (!met)
            return &h->deps[d];
    }
    return NULL;
}

static void describe(char *out, size_t cap, const struct al_image_header *h, const char *what,
                     const struct al_dependency *d)
{
    char v[AL_VERSION_STR_MAX], dv[AL_VERSION_STR_MAX];
    al_version_format(&h->version, v, sizeof v);
    al_version_format(&d->min_version, dv, sizeof dv);
    if (d->function == AL_FN_BOOTLOADER)
        snprintf(out, cap, "%s %u %s needs bootloader >= %s%s", al_function_name(h->function),
                 h->index, v, dv, what);
    else
        snprintf(out, cap, "%s %u %s needs %s %u >= %s%s", al_function_name(h->function), h->index,
                 v, al_function_name(d->function), d->index, dv, what);
}

/* Lowest held version of a module that meets d on this platform. */
static const struct ald_image *lowest_meeting(const struct ald_catalog *c, uint16_t platform,
                                              const struct al_dependency *d)
{
    const struct ald_image *best = NULL;
    for (size_t i = 0; i < c->count; i++) {
        const struct al_image_header *h = &c->images[i].hdr;
        if (h->platform == platform && al_dependency_met(d, h->function, h->index, &h->version) &&
            (!best || al_version_compare(&h->version, &best->hdr.version) < 0 ||
             (al_version_compare(&h->version, &best->hdr.version) == 0 &&
              h->security_counter > best->hdr.security_counter)))
            best = &c->images[i];
    }
    return best;
}

/* Install preference when several are possible: bootloader, system, radio, application. */
static int rank(uint8_t function)
{
    switch (function) {
    case AL_FN_BOOTLOADER: return 0;
    case AL_FN_SYSTEM: return 1;
    case AL_FN_RADIO: return 2;
    default: return 3;
    }
}

/* Could h be installed now, on a device in state s? */
static bool installable(const struct sim *s, const struct al_image_header *h)
{
    struct sim after = *s;
    put(&after, h);
    if (unmet(&after, h))
        return false;
    for (size_t i = 0; i < after.n; i++)
        if (after.m[i].hdr && unmet(&after, after.m[i].hdr))
            return false;
    return true;
}

static bool wrong_platform(const struct al_image_header *h, uint16_t platform,
                           struct ald_plan_result *out)
{
    if (h->platform == platform)
        return false;
    out->error = ALD_PLAN_WRONG_PLATFORM;
    snprintf(out->why, sizeof out->why, "%s %u is built for platform %u, the device is %u",
             al_function_name(h->function), h->index, h->platform, platform);
    return true;
}

void ald_plan(uint16_t platform, const struct al_module_status *running, size_t running_count,
              const struct ald_image *const *wanted, size_t wanted_count,
              const struct ald_catalog *catalog, struct ald_plan_result *out)
{
    const struct ald_image *need[ALD_PLAN_MAX_STEPS];
    size_t n_need = 0;
    struct sim state = {.n = 0};
    memset(out, 0, sizeof *out);

    for (size_t i = 0; i < running_count && state.n < MAX_MODULES; i++) {
        const struct al_module_status *r = &running[i];
        if (!r->present)
            continue;
        const struct ald_image *held = by_hash(catalog, r->payload_sha256);
        state.m[state.n++] = (struct module){r->function, r->index, r->version, held ? &held->hdr : NULL};
    }
    /* What is wanted and not already running. */
    for (size_t i = 0; i < wanted_count; i++) {
        const struct al_image_header *h = &wanted[i]->hdr;
        if (wrong_platform(h, platform, out))
            return;
        for (size_t j = 0; j < n_need; j++) {
            if (same_module(need[j]->hdr.function, need[j]->hdr.index, h->function, h->index)) {
                out->error = ALD_PLAN_CONFLICT;
                snprintf(out->why, sizeof out->why, "two images for %s %u", al_function_name(h->function),
                         h->index);
                return;
            }
        }
        bool runs = false;
        for (size_t j = 0; j < running_count; j++)
            runs |= running[j].present &&
                    same_module(running[j].function, running[j].index, h->function, h->index) &&
                    memcmp(running[j].payload_sha256, h->payload_sha256, AL_SHA256_SIZE) == 0;
        if (runs)
            continue; /* never sent again */
        if (n_need == ALD_PLAN_MAX_STEPS)
            goto too_many;
        need[n_need++] = wanted[i];
    }
    /* Close over dependencies: what the device will run must meet every need. */
    for (bool changed = true; changed;) {
        changed = false;
        struct sim final = state;
        for (size_t i = 0; i < n_need; i++)
            put(&final, &need[i]->hdr);
        for (size_t i = 0; i < n_need && !changed; i++) {
            const struct al_dependency *d = unmet(&final, &need[i]->hdr);
            if (!d)
                continue;
            const struct ald_image *fill = lowest_meeting(catalog, platform, d);
            bool planned = false;
            for (size_t j = 0; j < n_need; j++)
                planned |= same_module(need[j]->hdr.function, need[j]->hdr.index, d->function, d->index);
            if (!fill || planned) {
                out->error = ALD_PLAN_MISSING_DEPENDENCY;
                describe(out->why, sizeof out->why, &need[i]->hdr,
                         planned ? "; the update brings an older one" : "; no such image is held", d);
                return;
            }
            if (n_need == ALD_PLAN_MAX_STEPS)
                goto too_many;
            need[n_need++] = fill;
            changed = true;
        }
    }
    /* Order: repeatedly install the most basic module that can be installed now. */
    while (out->step_count < n_need) {
        size_t pick = SIZE_MAX;
        for (size_t i = 0; i < n_need; i++) {
            bool done = false;
            for (size_t k = 0; k < out->step_count; k++)
                done |= out->steps[k] == need[i];
            if (done || !installable(&state, &need[i]->hdr))
                continue;
            if (pick == SIZE_MAX || rank(need[i]->hdr.function) < rank(need[pick]->hdr.function) ||
                (rank(need[i]->hdr.function) == rank(need[pick]->hdr.function) &&
                 need[i]->hdr.index < need[pick]->hdr.index))
                pick = i;
        }
        if (pick == SIZE_MAX) {
            out->error = ALD_PLAN_NO_ORDER;
            snprintf(out->why, sizeof out->why,
                     "no install order keeps every dependency met (circular or conflicting dependencies)");
            out->step_count = 0;
            return;
        }
        out->steps[out->step_count++] = need[pick];
        put(&state, &need[pick]->hdr);
    }
    return;
too_many:
    out->error = ALD_PLAN_TOO_MANY_STEPS;
    snprintf(out->why, sizeof out->why, "more than %d modules to install at once", ALD_PLAN_MAX_STEPS);
}

void ald_plan_unreported(uint16_t platform, const struct ald_image *const *wanted,
                         size_t wanted_count, struct ald_plan_result *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < wanted_count; i++) {
        const struct al_image_header *h = &wanted[i]->hdr;
        if (wrong_platform(h, platform, out))
            return;
        for (size_t j = 0; j < out->step_count; j++)
            if (same_module(out->steps[j]->hdr.function, out->steps[j]->hdr.index, h->function,
                            h->index)) {
                out->error = ALD_PLAN_CONFLICT;
                snprintf(out->why, sizeof out->why, "two images for %s %u",
                         al_function_name(h->function), h->index);
                out->step_count = 0;
                return;
            }
        if (out->step_count == ALD_PLAN_MAX_STEPS) {
            out->error = ALD_PLAN_TOO_MANY_STEPS;
            snprintf(out->why, sizeof out->why, "more than %d modules to install at once",
                     ALD_PLAN_MAX_STEPS);
            out->step_count = 0;
            return;
        }
        /* insertion by install preference: bootloader, system, radio, application; index */
        size_t k = out->step_count++;
        while (k > 0 && (rank(out->steps[k - 1]->hdr.function) > rank(h->function) ||
                         (rank(out->steps[k - 1]->hdr.function) == rank(h->function) &&
                          out->steps[k - 1]->hdr.index > h->index))) {
            out->steps[k] = out->steps[k - 1];
            k--;
        }
        out->steps[k] = wanted[i];
    }
}
