/*
 * bootloader.c - nrf52840-minimal's bootloader (bootloader copy A, 0xF8000): the power-on
 * path of libairlift. It opens the install engine, lets al_boot finish or undo whatever
 * install the journal holds (safe to cut at any point: the next power-on carries on), and
 * starts what al_boot chose: the application, or the system slot in safe mode.
 * Same port hooks as the application (port_nrf52840.c); docs/porting.md.
 */
#include <stddef.h>
#include <stdint.h>

#include "airlift/install.h"
#include "port.h"

#define POWER_RESETREAS (*(volatile uint32_t *)0x40000400u)
#define RESETREAS_DOG (1u << 1)
#define RESETREAS_SREQ (1u << 2)
#define RESETREAS_LOCKUP (1u << 3)
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)

static struct al_device device;

/* Why the chip reset (POWER.RESETREAS, cleared by writing its bits back). A HardFault
 * handler that resets through SYSRESETREQ reads as "software" unless it leaves a mark
 * (GPREGRET, say) for this function to find. */
static enum al_reset_reason reset_reason(void)
{
    uint32_t r = POWER_RESETREAS;
    POWER_RESETREAS = r;
    if (r & RESETREAS_DOG)
        return AL_RESET_WATCHDOG;
    if (r & RESETREAS_LOCKUP)
        return AL_RESET_FAULT;
    if (r & RESETREAS_SREQ)
        return AL_RESET_SOFTWARE;
    return AL_RESET_POWER_ON;
}

/* Start the image whose vector table is at addr: its stack pointer and reset handler.
 * (With Nordic's MBR and an enabled SoftDevice, interrupt forwarding is set through the
 * MBR, sd_mbr_command(SD_MBR_COMMAND_IRQ_FORWARD_ADDRESS_SET), rather than VTOR.) */
static void start(uint32_t addr)
{
    const volatile uint32_t *vectors = (const volatile uint32_t *)(uintptr_t)addr;
    uint32_t sp = vectors[0], pc = vectors[1];
    SCB_VTOR = addr;
    __asm volatile("msr msp, %0\n\tbx %1" : : "r"(sp), "r"(pc) : "memory");
}

int main(void)
{
    struct al_boot_info info;
    if (al_device_open(&device, &nrf_device_config) != AL_OK ||
        al_boot(&device, reset_reason(), &info) != AL_OK)
        nrf_halt();
    const struct al_region *run = NULL;
    if (info.target == AL_RUN_APPLICATION)
        run = al_layout_slot(&nrf_layout, AL_FN_APPLICATION, 1);
    else if (info.target == AL_RUN_SAFE_MODE)
        run = al_layout_slot(&nrf_layout, AL_FN_SYSTEM, 1);
    if (run == NULL)
        nrf_halt(); /* nothing verified to run: an unprovisioned device */
    start(run->link_address);
    return 0; /* not reached: start() does not return */
}
