/*
 * port.h - the nRF52840 port of this example: what main.c wires into libairlift.
 * port_nrf52840.c fills these in; docs/porting.md walks through each.
 */
#ifndef NRF52840_MINIMAL_PORT_H
#define NRF52840_MINIMAL_PORT_H

#include "airlift/agent.h"
#include "airlift/install.h"
#include "airlift/image.h"
#include "airlift/layout.h"
#include "airlift/port.h"

/* The board's flash map: the nrf52840 board of sim/board.c (docs/flash-layout.md). */
extern const struct al_layout nrf_layout;
/* Crypto: stubs that refuse every signature until a real SHA-256 and P-256 are wired in. */
extern const struct al_crypto nrf_crypto;
/* The public keys this device trusts. */
extern const struct al_keyring nrf_keys;
/* Transport: a stub that reports the link down until a modem's CoAP/DTLS is wired in. */
extern const struct al_transport nrf_transport;
/* Clock (SysTick, 1 ms) and reset (AIRCR.SYSRESETREQ). */
extern const struct al_system nrf_system;

/* The product's platform id (docs/api.md, "Platforms"): 13, boron, an nRF52840 platform.
 * The application and the bootloader must agree on it. */
#define NRF_PLATFORM_ID 13

/* The install engine's configuration: layout, crypto, keys, platform, a 1 KiB scratch. */
extern const struct al_device_config nrf_device_config;

/* Nothing sensible to do (no sound layout or journal, nothing to run): stop where a
 * debugger sees it. Does not return. */
void nrf_halt(void);

/* Start the millisecond clock behind nrf_system.now_ms (SysTick at 64 MHz HFCLK). */
void nrf_clock_start(void);

#endif
