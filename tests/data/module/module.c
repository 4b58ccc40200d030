/*
 * module.c - a tiny Particle Device OS module built here with arm-none-eabi-gcc (tests/cli/
 * CMakeLists.txt, README.md): a module_info_t header where each generation puts it, code, a
 * module_info_suffix_t and room for the CRC-32, which seal.py fills in after linking, as
 * Device OS's own build does. The layout facts are Device OS's (dynalib/inc/module_info.h);
 * the code is ours. CMake defines the header's fields per variant (MOD_*), and VT_WORDS: the
 * 32-bit words of vector table in front of the header (0: the header at the module's start).
 */
#include <stdint.h>

extern const char module_start[], module_end[];
extern uint32_t _estack;

void reset_handler(void);

struct module_dependency {
    uint8_t function, index;
    uint16_t version;
};

/* module_info_t: 24 bytes, little-endian. */
struct module_info {
    const void *start, *end;
    uint8_t reserved, flags;
    uint16_t version, platform;
    uint8_t function, index;
    struct module_dependency deps[2];
};

/* module_info_suffix_t without extensions: 36 bytes at the module's end. */
struct module_suffix {
    uint16_t reserved;
    uint8_t sha256[32];
    uint16_t size;
};

#if VT_WORDS > 0
__attribute__((section(".module_vectors"), used)) static const void *const vectors[VT_WORDS] = {
    &_estack,
    (const void *)reset_handler,
};
#endif

__attribute__((section(".module_info"), used)) static const struct module_info info = {
    module_start, module_end, 0, 0, MOD_VERSION, MOD_PLATFORM, MOD_FUNCTION, MOD_INDEX,
    {{MOD_DEP_FUNCTION, MOD_DEP_INDEX, MOD_DEP_VERSION}, {0, 0, 0}}};

__attribute__((section(".module_suffix"), used)) static const struct module_suffix suffix = {
    0, {0}, sizeof(struct module_suffix)};

__attribute__((section(".module_crc"), used)) static const uint8_t crc[4] = {0, 0, 0, 0};

static const char banner[] = "airlift test module";

void reset_handler(void)
{
    volatile uint32_t sum = 0;

    for (unsigned i = 0; i < sizeof banner; i++)
        sum += (uint8_t)banner[i];
    for (;;)
        ;
}
