/*
 * link.h - a simulated radio link: a UDP relay between a simulated device and the server
 * that delays, loses, duplicates and reorders datagrams and limits bandwidth, and counts
 * every byte that would cross the air (UDP payload + 28 bytes of IPv4/UDP header).
 * It runs in its own thread; the device talks to 127.0.0.1:local_port instead of the server.
 */
#ifndef AIRLIFT_SIM_LINK_H
#define AIRLIFT_SIM_LINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#define SIM_LINK_IP_UDP_OVERHEAD 28
#define SIM_LINK_BUFFER_DEFAULT 65536u /* docs/simulated-device.md, "Radio link" */

/* What a datagram carries, by its first byte (the DTLS record's content type). */
enum sim_link_kind { SIM_LINK_HANDSHAKE, SIM_LINK_ALERT, SIM_LINK_APPLICATION, SIM_LINK_KINDS };

struct sim_link_config {
    double loss;          /* probability a datagram is dropped, each direction */
    double duplicate;     /* probability a datagram is delivered twice */
    double reorder;       /* probability a datagram is held back behind the next one */
    uint32_t latency_ms;  /* one-way delay */
    uint32_t bandwidth_bps; /* 0: unlimited; else serialisation delay per byte */
    uint32_t buffer_bytes;  /* with a bandwidth: the radio's queue per direction, drop-tail
                               (bytes waiting to go on the air); 0: SIM_LINK_BUFFER_DEFAULT */
    uint32_t seed;
    bool same_port;       /* no NAT: the server sees one source port, across device sockets */
    uint16_t source_port; /* with same_port: that port (0: any free one, see sim_link_source_port) */
};

struct sim_link_stats {
    atomic_uint_fast64_t up_bytes, down_bytes;     /* on the air, headers included */
    atomic_uint_fast64_t up_datagrams, down_datagrams;
    atomic_uint_fast64_t dropped;  /* lost: by --loss, or a full queue (also counted next) */
    atomic_uint_fast64_t overflowed; /* dropped because the radio's queue was full */
    /* The same bytes and datagrams by the DTLS record type that starts the datagram, per
     * direction ([0] up, [1] down): the handshake (with ChangeCipherSpec), alerts, and
     * everything else (application data; all of plain CoAP). */
    atomic_uint_fast64_t kind_bytes[2][SIM_LINK_KINDS], kind_datagrams[2][SIM_LINK_KINDS];
};

struct sim_link;

/* Relay between 127.0.0.1:*local_port (chosen) and server. Returns 0 or -1. */
int sim_link_start(struct sim_link **out, const struct sim_link_config *cfg,
                   const struct sockaddr_in *server, uint16_t *local_port);
const struct sim_link_stats *sim_link_stats(const struct sim_link *l);
/* The source port the server sees (with same_port, the same for the link's whole life). */
uint16_t sim_link_source_port(const struct sim_link *l);
void sim_link_stop(struct sim_link *l);

#endif
