/*
 * test_powercut.c - the power-cut campaign.
 *
 * For each scenario, run it once without a cut to count its flash operations, then again
 * once per operation with the power cut exactly there, clean (the operation does nothing) and
 * torn (it is partly done). After every cut the device reboots and carries on as a real one
 * would (the agent re-downloads if its request was lost, the firmware confirms or crashes),
 * and after every boot the invariants are checked:
 *
 *   - al_boot succeeds and runs the application: a complete, verified image boots;
 *   - every slot holds exactly its old or its new image, never a mix; the others are untouched;
 *   - the anti-rollback floors never go down;
 *   - in the end the transaction has finished (new image confirmed) or been undone (old image
 *     back, result "reverted"), as the scenario expects.
 *
 * Patched scenarios download a delta patch instead of the image: the real update agent
 * decodes it into staging (reading the old image from its slot) against a stand-in server,
 * so the cuts also land in every staging write and checkpoint of the decoder, and the
 * agent must resume from the journal's checkpoint and produce the exact image.
 *
 * Usage: test_powercut BOARD [SCENARIO]   (BOARD: electron | pages4k | nrf52840)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/agent.h"
#include "airlift_host/delta.h"
#include "fake_server.h"
#include "harness.h"

enum outcome { EXPECT_NEW, EXPECT_OLD };

struct scenario {
    const char *name;
    uint8_t function, index;
    bool confirms;          /* does the new firmware confirm itself? */
    enum outcome outcome;
    bool double_cut;        /* cut once mid-install, then sweep the restarted install */
    uint8_t patched;        /* the agent downloads a patch of this encoding (AL_ENC_DELTA, or
                             * AL_ENC_DELTA_SLOTS: its old image spans the function's slots);
                             * 0: the image, staged */
};

static const struct scenario scenarios[] = {
    {"application", AL_FN_APPLICATION, 1, true, EXPECT_NEW, false, 0},
    {"system-1", AL_FN_SYSTEM, 1, true, EXPECT_NEW, false, 0},
    {"system-2", AL_FN_SYSTEM, 2, true, EXPECT_NEW, false, 0},
    {"system-3", AL_FN_SYSTEM, 3, true, EXPECT_NEW, false, 0},
    {"bootloader", AL_FN_BOOTLOADER, 0, true, EXPECT_NEW, false, 0},
    {"revert", AL_FN_APPLICATION, 1, false, EXPECT_OLD, false, 0},
    {"bootloader-revert", AL_FN_BOOTLOADER, 0, false, EXPECT_OLD, false, 0},
    {"cut-and-restart", AL_FN_SYSTEM, 1, true, EXPECT_NEW, true, 0},
    {"system-3-patched", AL_FN_SYSTEM, 3, true, EXPECT_NEW, false, AL_ENC_DELTA},
    {"system-3-slots", AL_FN_SYSTEM, 3, true, EXPECT_NEW, false, AL_ENC_DELTA_SLOTS},
    {"application-patched", AL_FN_APPLICATION, 1, true, EXPECT_NEW, false, AL_ENC_DELTA},
    {"radio", AL_FN_RADIO, 1, true, EXPECT_NEW, false, 0}, /* nRF52840: the SoftDevice */
};

/* Everything one scenario needs: the board after factory programming, and the images. */
struct fixture {
    struct harness h;
    struct test_image factory[8]; /* what the device left the factory with */
    size_t factory_count;
    struct test_image update;     /* the new image of the scenario's module */
    size_t old_index;             /* factory[] entry the update replaces */
    struct sim_snapshot snap;
    const struct scenario *sc;
    /* Patched scenarios: the stand-in server and the agent (RAM: rebuilt at every boot). */
    struct fake_server server;
    struct al_transport transport;
    struct al_agent agent;
};

static al_err fake_exchange(void *ctx, uint8_t method, const char *path, const uint8_t *req,
                            size_t req_len, uint8_t *resp, size_t cap, size_t *resp_len,
                            uint8_t *code)
{
    (void)method;
    *resp_len = 0;
    *code = (uint8_t)(strcmp(path, "s") == 0 ? fake_status(ctx, req, req_len)
                      : fake_inventory(ctx, req, req_len, resp, cap, resp_len));
    return AL_OK;
}

static al_err fake_fetch(void *ctx, const char *name, uint32_t offset, uint32_t size,
                         uint32_t until, uint8_t *buf, size_t cap, size_t *got)
{
    struct fake_server *s = ctx;
    size_t len;
    (void)name;
    (void)until;
    const uint8_t *data = fake_transfer(s, s->plan_id, 0, &len);
    if (!data || offset >= len || size != len)
        return AL_ERR_PROTOCOL;
    *got = len - offset < cap ? len - offset : cap;
    memcpy(buf, data + offset, *got);
    return AL_OK;
}

/* The patch from the factory image of the slot to the update (old image: the slot's payload,
 * for encoding 3 followed by the factory images of the function's other slots in the
 * layout's order, the order the device lists its modules in). */
static void make_patch(struct fixture *fx)
{
    const struct test_image *old = &fx->factory[fx->old_index];
    const struct al_layout *l = &fx->h.board.layout;
    struct alh_delta_opts o;
    char err[160];
    size_t old_len = old->hdr.payload_size;
    uint8_t *base = malloc(old_len);
    memcpy(base, old->bytes + old->hdr.header_size, old_len);
    for (size_t i = 0; fx->sc->patched == AL_ENC_DELTA_SLOTS && i < l->count; i++)
        for (size_t k = 0; k < fx->factory_count; k++) {
            const struct test_image *f = &fx->factory[k];
            if (l->regions[i].role != AL_REGION_SLOT || k == fx->old_index ||
                l->regions[i].function != old->hdr.function || f->hdr.function != old->hdr.function ||
                f->hdr.index != l->regions[i].index)
                continue;
            base = realloc(base, old_len + f->hdr.payload_size);
            memcpy(base + old_len, f->bytes + f->hdr.header_size, f->hdr.payload_size);
            old_len += f->hdr.payload_size;
        }
    alh_delta_opts_default(&o);
    o.fast = 1;
    o.data = 1; /* data pointers in the map whenever the map has them */
    o.block_target = 8192; /* several blocks (the 16 KiB default makes this one), so a cut
                            * can resume at a checkpoint after the first */
    o.old_origin = 0;
    o.old_link = old->hdr.link_address;
    o.old_primary = old->hdr.payload_size;
    if (alh_delta_encode(base, old_len, fx->update.bytes, fx->update.len, &o, &fx->server.stream,
                         &fx->server.stream_len, err, sizeof err) != 0) {
        fprintf(stderr, "test_powercut: cannot make the patch: %s\n", err);
        exit(2);
    }
    if (fx->sc->patched == AL_ENC_DELTA_SLOTS && old_len == old->hdr.payload_size) {
        fprintf(stderr, "test_powercut: %s: no other slot of the function\n", fx->sc->name);
        exit(2);
    }
    free(base);
    /* The system part's patch (0.6.4 -> 0.7.0) takes every transform of the format: branches,
     * the address map and its data pointers, so the cuts land in their decoding too. */
    if (fx->sc->function == AL_FN_SYSTEM &&
        (fx->server.stream[6] & 7) != (AL_DELTA_FLAG_THUMB | AL_DELTA_FLAG_MAP | AL_DELTA_FLAG_DATA)) {
        fprintf(stderr, "test_powercut: the patch does not use every transform (flags %u)\n",
                fx->server.stream[6]);
        exit(2);
    }
    fx->server.encoding = fx->sc->patched;
    fx->server.target = &fx->update;
    fx->server.plan_id = 9;
    fx->transport = (struct al_transport){&fx->server, fake_exchange, fake_fetch, NULL};
}

static bool has_slot(struct harness *h, uint8_t function, uint8_t index)
{
    return al_layout_slot(&h->board.layout, function, index) != NULL;
}

/* Factory firmware: Device OS 0.6.4 system parts, bootloader, an application; the update
 * is the scenario module's next version (0.7.0 system parts, real payloads). */
static void fixture_setup(struct fixture *fx, const char *board, const struct scenario *sc)
{
    static const char *const old_parts[4] = {NULL, "electron/system-part2-0.6.4.bin",
                                             "electron/system-part3-0.6.4.bin",
                                             "electron/system-part1-0.6.4.bin"};
    static const char *const new_parts[4] = {NULL, "electron/system-part2-0.7.0.bin",
                                             "electron/system-part3-0.7.0.bin",
                                             "electron/system-part1-0.7.0.bin"};
    struct harness *h = &fx->h;
    size_t len;
    uint8_t *p;
    memset(fx, 0, sizeof *fx);
    fx->sc = sc;
    harness_open(h, board);

    p = harness_firmware("electron/bootloader-2.3.0.bin", &len);
    harness_image(h, &fx->factory[fx->factory_count++], AL_FN_BOOTLOADER, 0, "1006.0.0", 1, p, len, NULL);
    if (sc->function == AL_FN_BOOTLOADER) {
        p[len - 1] ^= 0x5a; /* a different build of the same size */
        harness_image(h, &fx->update, AL_FN_BOOTLOADER, 0, "1007.0.0", 2, p, len, NULL);
        fx->old_index = 0;
    }
    free(p);
    for (uint8_t idx = 1; idx <= 3; idx++) {
        if (!has_slot(h, AL_FN_SYSTEM, idx))
            continue;
        p = harness_firmware(old_parts[idx], &len);
        if (sc->function == AL_FN_SYSTEM && sc->index == idx)
            fx->old_index = fx->factory_count;
        harness_image(h, &fx->factory[fx->factory_count++], AL_FN_SYSTEM, idx, "0.6.4", 1, p, len, NULL);
        free(p);
        if (sc->function == AL_FN_SYSTEM && sc->index == idx) {
            p = harness_firmware(new_parts[idx], &len);
            harness_image(h, &fx->update, AL_FN_SYSTEM, idx, "0.7.0", 2, p, len, NULL);
            free(p);
        }
    }
    /* Applications (and radio stacks): deterministic pseudo-random payloads of different sizes. */
    uint8_t *app = malloc(40000);
    for (size_t i = 0; i < 40000; i++)
        app[i] = (uint8_t)((i * 2654435761u) >> 13);
    if (has_slot(h, AL_FN_RADIO, 1)) {
        if (sc->function == AL_FN_RADIO)
            fx->old_index = fx->factory_count;
        harness_image(h, &fx->factory[fx->factory_count++], AL_FN_RADIO, 1, "7.2.0", 1, app + 3,
                      30000, NULL);
        if (sc->function == AL_FN_RADIO)
            harness_image(h, &fx->update, AL_FN_RADIO, 1, "7.3.0", 2, app + 5, 36000, NULL);
    }
    if (sc->function == AL_FN_APPLICATION)
        fx->old_index = fx->factory_count;
    harness_image(h, &fx->factory[fx->factory_count++], AL_FN_APPLICATION, 1, "1.0.0", 1, app,
                  21000, "2:1:0.6.4");
    if (sc->function == AL_FN_APPLICATION) {
        app[7] ^= 1;
        harness_image(h, &fx->update, AL_FN_APPLICATION, 1, "1.1.0-rc.1", 3, app, 40000,
                      "2:1:0.6.4");
    }
    free(app);

    for (size_t i = 0; i < fx->factory_count; i++)
        harness_factory(h, &fx->factory[i]);
    sim_snapshot_take(&h->board, &fx->snap);
    if (sc->patched)
        make_patch(fx);
}

static void fixture_teardown(struct fixture *fx)
{
    for (size_t i = 0; i < fx->factory_count; i++)
        harness_image_free(&fx->factory[i]);
    harness_image_free(&fx->update);
    free(fx->server.stream);
    sim_snapshot_free(&fx->snap);
    harness_close(&fx->h);
}

/* What one run observed. */
struct run {
    uint64_t ops;        /* flash operations the run performed */
    uint64_t first_cut;  /* op number of the first cut of a double-cut run */
    int boots;
    char failure[256];   /* empty if every invariant held */
};

#define FAIL(run, ...) do { snprintf((run)->failure, sizeof (run)->failure, __VA_ARGS__); return; } while (0)

static bool same_payload(const struct al_module_status *m, const struct test_image *img)
{
    return m->present && memcmp(m->payload_sha256, img->hdr.payload_sha256, AL_SHA256_SIZE) == 0;
}

/* Invariants after a successful boot. */
static void check_boot(struct fixture *fx, struct run *run, const struct al_boot_info *info,
                       uint32_t *floors)
{
    struct harness *h = &fx->h;
    struct al_module_status mods[AL_MAX_MODULES];
    size_t n = 0;
    if (info->target != AL_RUN_APPLICATION)
        FAIL(run, "boot %d runs %s (%s), not the application", run->boots,
             info->target == AL_RUN_SAFE_MODE ? "safe mode" : "nothing", info->reason);
    if (al_modules(&h->dev, mods, AL_MAX_MODULES, &n) != AL_OK)
        FAIL(run, "inventory failed");
    for (size_t i = 0; i < fx->factory_count; i++) {
        const struct test_image *old = &fx->factory[i];
        const struct al_module_status *m = NULL;
        for (size_t j = 0; j < n; j++)
            if (mods[j].function == old->hdr.function && mods[j].index == old->hdr.index)
                m = &mods[j];
        if (!m)
            FAIL(run, "module %u/%u missing from inventory", old->hdr.function, old->hdr.index);
        bool ok = same_payload(m, old) || (i == fx->old_index && same_payload(m, &fx->update));
        if (!ok)
            FAIL(run, "boot %d: %s %u holds neither its old nor its new image (present=%d)",
                 run->boots, al_function_name(old->hdr.function), old->hdr.index, m->present);
    }
    for (size_t i = 0; i < AL_MAX_MODULES; i++) {
        if (h->dev.state.counters[i] < floors[i])
            FAIL(run, "anti-rollback floor of region %zu went back from %u to %u", i, floors[i],
                 h->dev.state.counters[i]);
        floors[i] = h->dev.state.counters[i];
    }
}

/* Final state: the transaction finished or was undone, as the scenario expects. */
static void check_outcome(struct fixture *fx, struct run *run)
{
    struct harness *h = &fx->h;
    struct al_module_status mods[AL_MAX_MODULES];
    size_t n = 0;
    const struct test_image *want = fx->sc->outcome == EXPECT_NEW ? &fx->update : &fx->factory[fx->old_index];
    if (al_modules(&h->dev, mods, AL_MAX_MODULES, &n) != AL_OK)
        FAIL(run, "inventory failed");
    for (size_t j = 0; j < n; j++) {
        if (mods[j].function != want->hdr.function || mods[j].index != want->hdr.index)
            continue;
        if (!same_payload(&mods[j], want))
            FAIL(run, "ends with the %s image of %s %u", fx->sc->outcome == EXPECT_NEW ? "old" : "new",
                 al_function_name(want->hdr.function), want->hdr.index);
    }
    if (al_boot_state(&h->dev) == AL_BOOT_TRIAL)
        FAIL(run, "still on trial at the end");
    uint8_t result = h->dev.state.last_result;
    if (fx->sc->outcome == EXPECT_NEW && result != AL_RESULT_SUCCESS)
        FAIL(run, "last result %s, expected success", al_result_name(result));
    if (fx->sc->outcome == EXPECT_OLD && result != AL_RESULT_REVERTED)
        FAIL(run, "last result %s, expected reverted", al_result_name(result));
    if (fx->sc->outcome == EXPECT_NEW) {
        const struct al_region *r = harness_slot(h, want->hdr.function, want->hdr.index);
        size_t ci = al_layout_region_index(&h->board.layout, r);
        if (h->dev.state.counters[ci] != want->hdr.security_counter)
            FAIL(run, "floor %u after confirm, expected %u", h->dev.state.counters[ci],
                 want->hdr.security_counter);
    }
}

/*
 * One life of the device through the update. cut1/cut2: op numbers to cut at (UINT64_MAX:
 * none); cut2 is armed after the power comes back from cut1.
 */
static void run_once(struct fixture *fx, uint64_t cut1, uint64_t cut2, bool torn, struct run *run)
{
    struct harness *h = &fx->h;
    uint32_t floors[AL_MAX_MODULES] = {0};
    enum al_reset_reason why = AL_RESET_POWER_ON;
    bool requested = false, cut2_armed = false;
    memset(run, 0, sizeof *run);
    sim_snapshot_restore(&h->board, &fx->snap);
    sim_power_on(&h->board.power);
    sim_power_reset_ops(&h->board.power);
    if (cut1 != UINT64_MAX)
        sim_power_arm(&h->board.power, cut1, torn ? SIM_CUT_TORN : SIM_CUT_CLEAN);

    for (int life = 0; life < 64; life++) {
        if (!sim_power_is_on(&h->board.power)) {
            /* The power comes back. */
            run->first_cut = run->first_cut ? run->first_cut : sim_power_ops(&h->board.power);
            sim_power_on(&h->board.power);
            if (cut2 != UINT64_MAX && !cut2_armed) {
                sim_power_arm(&h->board.power, cut2, torn ? SIM_CUT_TORN : SIM_CUT_CLEAN);
                cut2_armed = true;
            }
            why = AL_RESET_POWER_ON;
        }
        struct al_boot_info info;
        al_err err = harness_device_open(h);
        if (err != AL_OK)
            FAIL(run, "device open failed: %s", al_strerror(err));
        err = al_boot(&h->dev, why, &info);
        if (err == AL_ERR_POWER_LOSS)
            continue;
        if (err != AL_OK)
            FAIL(run, "boot failed: %s", al_strerror(err));
        run->boots++;
        check_boot(fx, run, &info, floors);
        if (run->failure[0])
            return;
        if (al_boot_state(&h->dev) == AL_BOOT_TRIAL) {
            if (!fx->sc->confirms) {
                why = AL_RESET_FAULT; /* the new firmware crashes before it confirms */
                continue;
            }
            err = al_confirm(&h->dev);
            if (err == AL_ERR_POWER_LOSS)
                continue;
            if (err != AL_OK)
                FAIL(run, "confirm failed: %s", al_strerror(err));
        }
        if (!requested && info.installed)
            requested = true; /* the cut came after the agent's install request was recorded */
        if (!requested && fx->sc->patched) {
            /* The update agent decodes the patch into staging and asks for the install. */
            struct al_session_result r;
            al_agent_init(&fx->agent, &h->dev, &fx->transport);
            err = al_agent_session(&fx->agent, &r);
            if (err == AL_ERR_POWER_LOSS)
                continue;
            if (err != AL_OK || !r.reset_needed)
                FAIL(run, "the agent: %s, result %s", al_strerror(err),
                     al_result_name(r.failed_result));
            requested = true;
            why = AL_RESET_SOFTWARE;
            continue;
        }
        if (!requested) {
            /* The update agent downloads the image and asks for the install. */
            err = harness_stage(h, &fx->update, 1024);
            if (err == AL_ERR_POWER_LOSS)
                continue;
            if (err != AL_OK)
                FAIL(run, "staging failed: %s", al_strerror(err));
            requested = true;
            why = AL_RESET_SOFTWARE;
            continue;
        }
        run->ops = sim_power_ops(&h->board.power);
        check_outcome(fx, run);
        return;
    }
    FAIL(run, "did not settle after 64 boots");
}

static int run_scenario(const char *board, const struct scenario *sc)
{
    struct fixture fx;
    struct run run;
    fixture_setup(&fx, board, sc);
    if (!has_slot(&fx.h, sc->function, sc->index)) {
        printf("powercut %s/%s: board has no such slot, skipped\n", board, sc->name);
        fixture_teardown(&fx);
        return 0;
    }
    run_once(&fx, UINT64_MAX, UINT64_MAX, false, &run);
    if (run.failure[0]) {
        printf("powercut %s/%s: FAILED without any cut: %s\n", board, sc->name, run.failure);
        fixture_teardown(&fx);
        return 1;
    }
    uint64_t total = run.ops, first = 0, tried = 0, failed = 0;
    if (sc->double_cut) {
        /* Cut in the middle of the run, then sweep every operation of the restarted install. */
        first = total / 2;
        run_once(&fx, first, UINT64_MAX, false, &run);
        if (run.failure[0]) {
            printf("powercut %s/%s: FAILED with the first cut at %llu: %s\n", board, sc->name,
                   (unsigned long long)first, run.failure);
            fixture_teardown(&fx);
            return 1;
        }
        total = run.ops;
    }
    for (uint64_t op = sc->double_cut ? first + 1 : 0; op < total; op++) {
        for (int torn = 0; torn < 2; torn++) {
            if (sc->double_cut)
                run_once(&fx, first, op, torn, &run);
            else
                run_once(&fx, op, UINT64_MAX, torn, &run);
            tried++;
            if (run.failure[0]) {
                failed++;
                if (failed <= 5)
                    printf("powercut %s/%s: cut at op %llu (%s): %s\n", board, sc->name,
                           (unsigned long long)op, torn ? "torn" : "clean", run.failure);
            }
        }
    }
    printf("powercut %s/%s: %llu flash operations, %llu cut points tried, %llu failed\n", board,
           sc->name, (unsigned long long)(total - (sc->double_cut ? first + 1 : 0)),
           (unsigned long long)tried, (unsigned long long)failed);
    fixture_teardown(&fx);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *board = argc > 1 ? argv[1] : "electron";
    const char *only = argc > 2 ? argv[2] : NULL;
    int failed = 0, ran = 0;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (only && strcmp(only, scenarios[i].name) != 0)
            continue;
        failed += run_scenario(board, &scenarios[i]);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "test_powercut: no scenario named '%s'\n", only ? only : "");
        return 2;
    }
    return failed ? 1 : 0;
}
