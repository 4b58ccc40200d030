/*
 * main.c - nrf52840-minimal: the application side of libairlift on an nRF52840.
 *
 * At start it opens the install engine (which checks the layout and reads the journal);
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

static struct al_device device;
static struct al_agent agent;

int main(void)
{
    nrf_clock_start();
    if (al_device_open(&device, &nrf_device_config) != AL_OK) /* checks the layout too */
        nrf_halt();
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
