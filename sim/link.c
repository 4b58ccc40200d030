/* link.c - see link.h. One thread, two sockets, a queue of datagrams due at a time. */
#include "link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATAGRAM 2048
#define QUEUE_MAX 512

struct pending {
    uint64_t due_us;
    bool up; /* device -> server */
    size_t len;
    uint8_t data[MAX_DATAGRAM];
};

struct sim_link {
    struct sim_link_config cfg;
    struct sim_link_stats stats;
    int device_fd;   /* bound to 127.0.0.1:local_port, talks to the device */
    int server_fd;   /* connected to the server; a new one (a new NAT mapping) per device socket */
    struct sockaddr_in device_addr; /* learnt from the device's datagrams */
    bool device_known;
    struct sockaddr_in server;
    pthread_t thread;
    atomic_bool stop;
    struct pending *queue[QUEUE_MAX];
    size_t queued;
    uint64_t busy_until_us[2]; /* bandwidth: when each direction's air is free */
    uint32_t rng;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double chance(struct sim_link *l)
{
    uint32_t x = l->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    l->rng = x;
    return (x >> 8) / 16777216.0;
}

static void enqueue(struct sim_link *l, bool up, const uint8_t *data, size_t len, uint64_t extra_us)
{
    uint64_t t = now_us();
    int dir = up ? 0 : 1;
    if (l->cfg.bandwidth_bps) {
        /* Drop-tail: what still waits for the air, in bytes, must fit the radio's queue. */
        uint64_t wait = l->busy_until_us[dir] > t ? l->busy_until_us[dir] - t : 0;
        uint64_t backlog = wait * l->cfg.bandwidth_bps / 8u / 1000000u;
        uint32_t cap = l->cfg.buffer_bytes ? l->cfg.buffer_bytes : SIM_LINK_BUFFER_DEFAULT;
        if (backlog + len + SIM_LINK_IP_UDP_OVERHEAD > cap) {
            atomic_fetch_add(&l->stats.dropped, 1);
            atomic_fetch_add(&l->stats.overflowed, 1);
            return;
        }
    }
    if (l->queued >= QUEUE_MAX)
        return; /* the relay's own table is full (no bandwidth limit): drops */
    struct pending *p = malloc(sizeof *p);
    if (!p)
        return;
    if (l->cfg.bandwidth_bps) {
        uint64_t air = (uint64_t)(len + SIM_LINK_IP_UDP_OVERHEAD) * 8u * 1000000u / l->cfg.bandwidth_bps;
        uint64_t start = l->busy_until_us[dir] > t ? l->busy_until_us[dir] : t;
        l->busy_until_us[dir] = start + air;
        t = l->busy_until_us[dir];
    }
    p->due_us = t + (uint64_t)l->cfg.latency_ms * 1000u + extra_us;
    p->up = up;
    p->len = len;
    memcpy(p->data, data, len);
    l->queue[l->queued++] = p;
}

/* The record type of a DTLS datagram (RFC 6347 4.1: 20 ChangeCipherSpec, 21 alert,
 * 22 handshake, 23 application data); anything else counts as application (plain CoAP). */
static enum sim_link_kind kind_of(const uint8_t *data, size_t len)
{
    if (len && (data[0] == 20 || data[0] == 22))
        return SIM_LINK_HANDSHAKE;
    return len && data[0] == 21 ? SIM_LINK_ALERT : SIM_LINK_APPLICATION;
}

static void relay(struct sim_link *l, bool up, const uint8_t *data, size_t len)
{
    enum sim_link_kind k = kind_of(data, len);
    atomic_fetch_add(&l->stats.kind_bytes[!up][k], len + SIM_LINK_IP_UDP_OVERHEAD);
    atomic_fetch_add(&l->stats.kind_datagrams[!up][k], 1);
    if (up) {
        atomic_fetch_add(&l->stats.up_bytes, len + SIM_LINK_IP_UDP_OVERHEAD);
        atomic_fetch_add(&l->stats.up_datagrams, 1);
    } else {
        atomic_fetch_add(&l->stats.down_bytes, len + SIM_LINK_IP_UDP_OVERHEAD);
        atomic_fetch_add(&l->stats.down_datagrams, 1);
    }
    if (chance(l) < l->cfg.loss) {
        atomic_fetch_add(&l->stats.dropped, 1);
        return;
    }
    uint64_t hold = chance(l) < l->cfg.reorder ? 1000u * (l->cfg.latency_ms / 2 + 5) : 0;
    enqueue(l, up, data, len, hold);
    if (chance(l) < l->cfg.duplicate)
        enqueue(l, up, data, len, 1000);
}

static void deliver_due(struct sim_link *l)
{
    uint64_t t = now_us();
    for (size_t i = 0; i < l->queued;) {
        struct pending *p = l->queue[i];
        if (p->due_us > t) {
            i++;
            continue;
        }
        if (p->up)
            (void)send(l->server_fd, p->data, p->len, 0);
        else if (l->device_known)
            (void)sendto(l->device_fd, p->data, p->len, 0, (struct sockaddr *)&l->device_addr,
                         sizeof l->device_addr);
        free(p);
        /* Keep the order: datagrams due together leave in the order they came. */
        memmove(&l->queue[i], &l->queue[i + 1], (l->queued - i - 1) * sizeof l->queue[0]);
        l->queued--;
    }
}

/*
 * The device speaks from a new socket (it reset, or slept with its modem off): like a
 * carrier's NAT, give it a new mapping, i.e. a new source port towards the server, so the
 * server sees a new peer and never mistakes the new handshake for the old session's. The
 * old mapping's datagrams still in flight to the device are lost with it.
 */
static void remap(struct sim_link *l)
{
    int fd = l->cfg.same_port ? -1 : socket(AF_INET, SOCK_DGRAM, 0);
    if (l->cfg.same_port) {
        /* No NAT (a private APN, an NB-IoT modem): the same source port as before. */
    } else if (fd < 0 || connect(fd, (const struct sockaddr *)&l->server, sizeof l->server) != 0) {
        if (fd >= 0)
            close(fd);
        return; /* keep the old mapping */
    } else {
        close(l->server_fd);
        l->server_fd = fd;
    }
    for (size_t i = 0; i < l->queued;) {
        if (!l->queue[i]->up) {
            free(l->queue[i]);
            memmove(&l->queue[i], &l->queue[i + 1], (l->queued - i - 1) * sizeof l->queue[0]);
            l->queued--;
        } else {
            i++;
        }
    }
}

static void *run(void *arg)
{
    struct sim_link *l = arg;
    uint8_t buf[MAX_DATAGRAM];
    while (!atomic_load(&l->stop)) {
        struct pollfd fds[2] = {{l->device_fd, POLLIN, 0}, {l->server_fd, POLLIN, 0}};
        int rc = poll(fds, 2, 1);
        if (rc < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(l->device_fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n > 0) {
                if (l->device_known && (from.sin_port != l->device_addr.sin_port ||
                                        from.sin_addr.s_addr != l->device_addr.sin_addr.s_addr))
                    remap(l);
                l->device_addr = from;
                l->device_known = true;
                relay(l, true, buf, (size_t)n);
            }
        }
        if (fds[1].revents & POLLIN) {
            ssize_t n = recv(l->server_fd, buf, sizeof buf, 0);
            if (n > 0)
                relay(l, false, buf, (size_t)n);
        }
        deliver_due(l);
    }
    return NULL;
}

int sim_link_start(struct sim_link **out, const struct sim_link_config *cfg,
                   const struct sockaddr_in *server, uint16_t *local_port)
{
    struct sim_link *l = calloc(1, sizeof *l);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (!l)
        return -1;
    l->cfg = *cfg;
    l->rng = cfg->seed ? cfg->seed : 0x2545f491u;
    l->server = *server;
    l->device_fd = socket(AF_INET, SOCK_DGRAM, 0);
    l->server_fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l->server_fd >= 0 && cfg->same_port) { /* the port the device had before its reset */
        struct sockaddr_in src = a;
        int on = 1;
        src.sin_port = htons(cfg->source_port);
        (void)setsockopt(l->server_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(l->server_fd, (struct sockaddr *)&src, sizeof src) != 0)
            goto fail;
    }
    if (l->device_fd < 0 || l->server_fd < 0 || bind(l->device_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(l->device_fd, (struct sockaddr *)&a, &len) != 0 ||
        connect(l->server_fd, (const struct sockaddr *)server, sizeof *server) != 0)
        goto fail;
    *local_port = ntohs(a.sin_port);
    if (pthread_create(&l->thread, NULL, run, l) != 0)
        goto fail;
    *out = l;
    return 0;
fail:
    if (l->device_fd >= 0)
        close(l->device_fd);
    if (l->server_fd >= 0)
        close(l->server_fd);
    free(l);
    return -1;
}

uint16_t sim_link_source_port(const struct sim_link *l)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(l->server_fd, (struct sockaddr *)&a, &len) != 0)
        return 0;
    return ntohs(a.sin_port);
}

const struct sim_link_stats *sim_link_stats(const struct sim_link *l)
{
    return &l->stats;
}

void sim_link_stop(struct sim_link *l)
{
    if (!l)
        return;
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
    for (size_t i = 0; i < l->queued; i++)
        free(l->queue[i]);
    close(l->device_fd);
    close(l->server_fd);
    free(l);
}
