/*
 * fleet.h - airlift-fleet's pieces: the device list a provisioning run writes
 * (DIR/devices.tsv, docs/fleet-simulator.md) and the commands.
 */
#ifndef AIRLIFT_SIM_FLEET_H
#define AIRLIFT_SIM_FLEET_H

#include <stddef.h>
#include <stdint.h>

enum { FLEET_EXIT_OK = 0, FLEET_EXIT_INTERNAL = 1, FLEET_EXIT_USAGE = 2, FLEET_EXIT_FILE = 3,
       FLEET_EXIT_REFUSED = 4, FLEET_EXIT_KEY = 5, FLEET_EXIT_API = 6, FLEET_EXIT_TIMEOUT = 7 };

/* One line of devices.tsv: NAME, IDENTITY and PSK (hex), separated by tabs. */
struct fleet_row {
    char name[65];
    char identity[64];
    uint8_t psk[64];
    size_t psk_len;
};

/* Read DIR/devices.tsv (lines starting with '#' are comments) into a malloc'd array.
 * Returns 0, or -1 after printing the file and line that is wrong. */
int fleet_rows_load(const char *dir, struct fleet_row **rows, size_t *count);

/* airlift-fleet provision DIR ...: register devices with airliftd; see usage. */
int fleet_cmd_provision(int argc, char **argv);

#endif
