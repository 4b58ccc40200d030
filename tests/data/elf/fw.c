/*
 * fw.c - a tiny Cortex-M firmware for the ELF and Intel HEX importer tests (tests/cli/
 * CMakeLists.txt builds it with arm-none-eabi-gcc at several link addresses, see fw.ld.in).
 * It has a vector table, code, read-only data, initialised data (loaded in flash, run in
 * RAM: a second segment) and, in the "gap" variant, a section far above the rest.
 */
#include <stdint.h>

extern uint32_t _estack, _sidata, _sdata, _edata;

void reset_handler(void);
int main(void);

static const char banner[] = "airlift test firmware";
static volatile uint32_t counter = 0x12345678u; /* .data: loaded from flash */

__attribute__((section(".isr_vector"), used)) static const void *const vectors[] = {
    &_estack,
    (const void *)reset_handler,
};

#ifdef FW_FAR
__attribute__((section(".far"), used)) static const uint32_t far_marker[4] = {
    0xa1a1a1a1u, 0xb2b2b2b2u, 0xc3c3c3c3u, 0xd4d4d4d4u};
#endif

void reset_handler(void)
{
    uint32_t *src = &_sidata;

    for (uint32_t *dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    (void)main();
    for (;;)
        ;
}

int main(void)
{
    uint32_t sum = 0;

    for (const char *p = banner; *p != '\0'; p++)
        sum += (uint8_t)*p;
    counter += sum;
    return 0;
}
