/*
 * port.h - the nRF52840 port of this example: what main.c wires into libairlift.
 * port_nrf52840.c fills these in; docs/porting.md walks through each.
 */
#ifndef NRF52840_MINIMAL_PORT_H
#define NRF52840_MINIMAL_PORT_H

#include "airlift/agent.h"
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

/* Start the millisecond clock behind nrf_system.now_ms (SysTick at 64 MHz HFCLK). */
void nrf_clock_start(void);

#endif
