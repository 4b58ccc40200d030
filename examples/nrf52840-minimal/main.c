/*
 * main.c - nrf52840-minimal: the application side of libairlift on an nRF52840.
 *
 * At start it checks the layout and opens the install engine (which reads the journal);
 * then, once an hour (once a minute after a failure), it runs one session of the update
 * agent: inventory, plan, download into staging, verification, install request. When a
 * session asks for it, it resets into the bootloader, whose al_boot installs the image and
 * starts it on trial; the new firmware's first successful session confirms it.
 * The port hooks are in port_nrf52840.c (docs/porting.md).
 */
#include <stddef.h>
#include <stdint.h>

#include "airlift/agent.h"
#include "airlift/install.h"
#include "port.h"

#define SESSION_EVERY_MS (60u * 60u * 1000u)
#define RETRY_AFTER_MS (60u * 1000u)
#define PLATFORM_ID 13 /* the product's platform id (docs/api.md, "Platforms"): 13, boron */

static struct al_device device;
static struct al_agent agent;
static uint8_t scratch[1024];

/* Nothing sensible to do without a sound layout or journal: stop where a debugger sees it. */
static void halt(void)
{
    for (;;)
        __asm volatile("wfi");
}

int main(void)
{
    const struct al_device_config cfg = {
        .layout = &nrf_layout,
        .crypto = &nrf_crypto,
        .keys = &nrf_keys,
        .platform = PLATFORM_ID,
        .max_trial_boots = 0, /* the default */
        .scratch = scratch,
        .scratch_len = sizeof scratch,
    };
    nrf_clock_start();
    if (al_layout_check(&nrf_layout) != AL_OK || al_device_open(&device, &cfg) != AL_OK)
        halt();
    al_agent_init(&agent, &device, &nrf_transport);
    uint64_t next = 0;
    for (;;) {
        uint64_t now = nrf_system.now_ms(nrf_system.ctx);
        if (now >= next) {
            struct al_session_result r;
            al_err err = al_agent_session(&agent, &r);
            if (err == AL_OK && r.reset_needed)
                nrf_system.reset(nrf_system.ctx);
            next = now + (err == AL_OK ? SESSION_EVERY_MS : RETRY_AFTER_MS);
        }
        __asm volatile("wfi"); /* the SysTick wakes us every millisecond */
    }
}
