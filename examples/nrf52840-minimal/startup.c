/*
 * startup.c - the vector table and the reset handler: copy .data from flash, zero .bss,
 * run main. Interrupts this example does not use go to one handler that stops.
 */
#include <stdint.h>

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);

/* Any interrupt without a handler: stop here, where a debugger finds it. */
void Default_Handler(void)
{
    for (;;)
        ;
}

/* Runs at reset (or when the bootloader jumps here): C runtime setup, then main. */
void Reset_Handler(void)
{
    const uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
    main();
    for (;;)
        ;
}

/* Cortex-M system exceptions (ARMv7-M), entries 0-15. The nRF52840's 48 peripheral
 * interrupts would follow: this example enables none; add their entries before you do. */
__attribute__((section(".isr_vector"), used))
static void (*const vectors[16])(void) = {
    [0] = (void (*)(void))&_estack,
    [1] = Reset_Handler,
    [2] = Default_Handler,  /* NMI */
    [3] = Default_Handler,  /* HardFault */
    [4] = Default_Handler,  /* MemManage */
    [5] = Default_Handler,  /* BusFault */
    [6] = Default_Handler,  /* UsageFault */
    [11] = Default_Handler, /* SVCall */
    [12] = Default_Handler, /* DebugMonitor */
    [14] = Default_Handler, /* PendSV */
    [15] = SysTick_Handler,
};
