/*
 * airlift-fleet - thousands of simulated devices in one process (docs/fleet-simulator.md).
 *
 *   airlift-fleet provision DIR --api URL --token TOKEN --count N --prefix NAME- [...]
 *   airlift-fleet factory DIR [--trust KEY.pem] [--board B] [--platform N] IMAGE...
 *   airlift-fleet run DIR --server ADDR:PORT [mix options] [--duration S] [--until-updated]
 *
 * Each device is the real libairlift (install engine and update agent) on its own simulated
 * board, over real DTLS with its own PSK identity, UDP socket and flash. The flash is a
 * page-level copy-on-write view of one factory flash (sim/cowflash.c). The devices wait on
 * a schedule (a heap by due time); session workers, as many as may be in a session at once,
 * run each due device's next step: the agent and the transport block, so a session needs a
 * thread while it runs and a device between sessions none, and the device library and its
 * agent API stay as they are (docs/fleet-simulator.md says what else was weighed).
 *
 * Exit codes: 0 the run met its goal, 1 internal error, 2 usage, 3 file error, 4 image
 * refused, 5 key error, 6 the management API refused, 7 the time ran out before the goal.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <coap3/coap.h>

#include "airlift/agent.h"
#include "airlift/install.h"
#include "airlift_host/keys.h"
#include "al_host_crypto.h"
#include "board.h"
#include "coap_transport.h"
#include "cowflash.h"
#include "devconf.h"
#include "fleet.h"
#include "fleet_crypto.h"
#include "link.h"

static const char *prog = "airlift-fleet";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: airlift-fleet COMMAND DIR [options]\n"
            "  provision DIR --api URL --token TOKEN --count N --prefix NAME- [--start K]\n"
            "            [--platform N] [--product P] [--group G]... [--channel C] [--dev]\n"
            "                          register N devices with airliftd; append to DIR/devices.tsv\n"
            "  factory DIR [--trust KEY.pem] [--board electron|pages4k|nrf52840] [--platform N] IMAGE...\n"
            "                          program the factory flash every device starts from\n"
            "  run DIR --server ADDR:PORT [--duration S] [--until-updated] [--limit N]\n"
            "      [--period S] [--sleepy SPEC --sleep S] [--lossy SPEC --loss P --latency MS\n"
            "      --bandwidth BPS --duplicate P --reorder P] [--never-confirm SPEC]\n"
            "      [--crash-at-boot SPEC] [--jitter S] [--storm-at S] [--retry-ms MS]\n"
            "      [--server-idle S] [--status-every S] [--seed N] [--stack-kb K] [--skip N] [--radios N]\n"
            "                          run the devices; SPEC: N devices, P%% of them, or @PREFIX\n");
}

/* ---- factory ---------------------------------------------------------------------------- */

static int factory_dir(const char *dir, char *out, size_t cap)
{
    if ((size_t)snprintf(out, cap, "%s/factory", dir) >= cap) {
        fprintf(stderr, "%s: %s: path too long\n", prog, dir);
        return -1;
    }
    return 0;
}

static int cmd_factory(int argc, char **argv)
{
    const char *dir = NULL, *trust = NULL, *board = "electron";
    const char *images[64];
    size_t nimages = 0;
    unsigned long platform = 10;
    bool board_given = false, platform_given = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--trust") == 0 && v) { trust = v; i++; }
        else if (strcmp(a, "--board") == 0 && v) { board = v; board_given = true; i++; }
        else if (strcmp(a, "--platform") == 0 && v) {
            char *end = NULL;
            platform = strtoul(v, &end, 0);
            if (!*v || *end || platform > 65535) {
                fprintf(stderr, "%s: factory: --platform takes 0..65535, not '%s'\n", prog, v);
                return FLEET_EXIT_USAGE;
            }
            platform_given = true;
            i++;
        } else if (a[0] != '-' && !dir) dir = a;
        else if (a[0] != '-' && nimages < sizeof images / sizeof images[0]) images[nimages++] = a;
        else {
            fprintf(stderr, "%s: factory: unexpected argument '%s'\n", prog, a);
            return FLEET_EXIT_USAGE;
        }
    }
    char fdir[4096];
    if (!dir || nimages == 0) {
        fprintf(stderr, "%s: factory needs DIR and at least one IMAGE\n", prog);
        return FLEET_EXIT_USAGE;
    }
    if (factory_dir(dir, fdir, sizeof fdir) != 0)
        return FLEET_EXIT_USAGE;
    struct sim_conf c;
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/device.conf", fdir);
    if (stat(path, &st) == 0) {
        if (sim_conf_load(fdir, &c, prog) != 0)
            return FLEET_EXIT_FILE;
        if ((board_given && strcmp(board, c.board) != 0) || (platform_given && platform != c.platform)) {
            fprintf(stderr, "%s: %s is a %s board of platform %u already; start a new DIR to change it\n",
                    prog, fdir, c.board, c.platform);
            return FLEET_EXIT_USAGE;
        }
    } else {
        if (!trust) {
            fprintf(stderr, "%s: the first factory run needs --trust KEY.pem (the key images are signed with)\n",
                    prog);
            return FLEET_EXIT_USAGE;
        }
        memset(&c, 0, sizeof c);
        snprintf(c.board, sizeof c.board, "%s", board);
        c.platform = (unsigned)platform;
        if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(fdir, 0755) != 0 && errno != EEXIST)) {
            fprintf(stderr, "%s: cannot create %s: %s\n", prog, fdir, strerror(errno));
            return FLEET_EXIT_FILE;
        }
    }
    if (trust) {
        char err[256];
        alh_key *key = NULL;
        if (c.key_count == SIM_CONF_MAX_KEYS) {
            fprintf(stderr, "%s: %s trusts %d keys already\n", prog, fdir, SIM_CONF_MAX_KEYS);
            return FLEET_EXIT_USAGE;
        }
        if (alh_key_load(trust, &key, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return FLEET_EXIT_KEY;
        }
        alh_key_public_point(key, c.keys[c.key_count].pub);
        alh_key_id(c.keys[c.key_count].pub, c.keys[c.key_count].id);
        alh_key_free(key);
        bool known = false;
        for (size_t k = 0; k < c.key_count; k++)
            known |= memcmp(c.keys[k].pub, c.keys[c.key_count].pub, AL_P256_PUBKEY_SIZE) == 0;
        if (!known)
            c.key_count++;
    }
    struct sim_board b;
    if (sim_board_open(&b, c.board, fdir) != 0) {
        fprintf(stderr, "%s: %s\n", prog, b.error);
        return FLEET_EXIT_USAGE;
    }
    if (sim_conf_save(fdir, &c) != 0) {
        fprintf(stderr, "%s: cannot write %s/device.conf\n", prog, fdir);
        sim_board_close(&b);
        return FLEET_EXIT_FILE;
    }
    struct al_keyring ring = {c.keys, c.key_count};
    int rc = FLEET_EXIT_OK;
    for (size_t i = 0; i < nimages && rc == FLEET_EXIT_OK; i++)
        rc = sim_factory_image(&b.layout, &ring, (uint16_t)c.platform, images[i], prog);
    if (sim_board_close(&b) != 0 && rc == FLEET_EXIT_OK) {
        fprintf(stderr, "%s: cannot save the factory flash in %s\n", prog, fdir);
        rc = FLEET_EXIT_FILE;
    }
    return rc;
}

/* ---- run: settings ---------------------------------------------------------------------- */

/* Which devices a mix option applies to: a count, a percentage, or a name prefix. */
struct mix_spec {
    bool given;
    unsigned long count;  /* devices, when !percent and !prefix */
    double percent;
    bool is_percent;
    char prefix[65];
};

struct run_opts {
    char server[64];
    uint16_t port;
    double duration_s;    /* 0: no limit */
    bool until_updated;
    size_t limit;         /* run only the first N devices of devices.tsv; 0: all */
    size_t skip;          /* ... after skipping its first N rows */
    size_t radios;        /* devices in session at once at most; 0: as the open-file limit allows */
    unsigned period_s;    /* always-on devices check in this often */
    unsigned sleep_s;     /* sleepy devices wake this often */
    unsigned server_idle_s; /* airliftd's --coap-idle-timeout */
    double jitter_s;      /* first sessions spread over this long */
    double storm_at_s;    /* every device drops its session and comes back now; < 0: never */
    unsigned retry_ms;
    double status_every_s;
    uint32_t seed;
    size_t stack_kb;
    struct sim_link_config link;
    struct mix_spec sleepy, lossy, never_confirm, crash_at_boot;
};

static int parse_spec(const char *opt, const char *v, struct mix_spec *s)
{
    char *end = NULL;
    memset(s, 0, sizeof *s);
    s->given = true;
    if (v[0] == '@') {
        if (strlen(v + 1) == 0 || strlen(v + 1) >= sizeof s->prefix)
            goto bad;
        snprintf(s->prefix, sizeof s->prefix, "%s", v + 1);
        return 0;
    }
    double d = strtod(v, &end);
    if (end == v || d < 0)
        goto bad;
    if (*end == '%' && end[1] == '\0' && d <= 100) {
        s->is_percent = true;
        s->percent = d;
        return 0;
    }
    if (*end == '\0' && d == (double)(unsigned long)d) {
        s->count = (unsigned long)d;
        return 0;
    }
bad:
    fprintf(stderr, "%s: run: %s takes N (devices), P%% (0..100) or @PREFIX (names), not '%s'\n",
            prog, opt, v);
    return -1;
}

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end = NULL;
    double d = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "%s: run: %s takes a number in %g..%g, not '%s'\n", prog, opt, lo, hi,
                v ? v : "(nothing)");
        return -1;
    }
    *out = d;
    return 0;
}

/* ---- run: the devices ------------------------------------------------------------------- */

enum { KIND_SLEEPY = 1, KIND_LOSSY = 2, KIND_NEVER_CONFIRM = 4, KIND_CRASH_AT_BOOT = 8 };

struct fleet_device {
    size_t index;
    const struct fleet_row *row;
    unsigned kind;
    struct sim_cowflash flash[SIM_BOARD_MAX_FLASH];
    struct al_region regions[AL_LAYOUT_MAX_REGIONS];
    struct al_layout layout;
    struct al_device dev;
    uint8_t scratch[1024];
    struct al_agent *agent;
    struct sim_link *link;
    uint16_t link_port;
    uint64_t rng;
    bool stormed;
    /* Its life between steps (device_step): the transport kept between check-ins, what it
     * counted, why it boots next, failures in a row, when it is due (the schedule's key). */
    struct al_coap_transport *coap;
    struct al_coap_stats seen;
    enum al_reset_reason why;
    bool boot, installed_once, ended;
    unsigned failures;
    struct al_boot_info info;
    uint64_t due_ms;
    bool has_radio, wants_radio;      /* a radio handed to it; none was free at its step */
    struct fleet_device *next_waiting; /* in fleet.waiting */
    atomic_bool up_to_date; /* its last session said so */
    atomic_bool updated;    /* installed an update in this run and confirmed or reverted it */
};

/* What every device adds to (the summary, the status line). */
static struct {
    atomic_uint_fast64_t boots, sessions, checkins, session_errors;
    atomic_uint_fast64_t handshakes, handshake_failures;
    atomic_uint_fast64_t downloads, installed, confirmed, reverted, crashes, watchdog_resets;
    atomic_uint_fast64_t bytes_fetched;
    atomic_uint_fast64_t in_session, live_threads; /* live_threads: session workers */
    atomic_uint_fast64_t radio_waits; /* transports that had to wait for a free radio */
} stats;

static struct {
    struct run_opts o;
    struct sim_board factory;
    struct sim_conf conf;
    struct al_keyring keyring;
    uint64_t t0_ms;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* broadcast at the storm and at the end */
    /* The radios: at most `radios` devices hold a transport (a UDP socket, libcoap's epoll
     * and timer fds) at once, as the process's open-file limit allows; the others wait for
     * one, as a modem waits to attach. */
    size_t radios, radios_free;
    pthread_cond_t radio_freed; /* broadcast at the end (no one waits on it any more) */
    /* Devices due but waiting for a radio, in order: a radio given back goes to the first,
     * which is due again at once. No worker waits for a radio: a device holding one (kept
     * across its install's reset) may need a worker to give it back. */
    struct fleet_device *waiting, **waiting_tail;
    /* The schedule: every device not in a step, a min-heap by due_ms (under lock). Session
     * workers take the earliest once it is due; `wake` tells them of an earlier one, the
     * storm and the end. */
    struct fleet_device **heap;
    size_t heap_n;
    bool leader;       /* a worker waits for the earliest due time */
    pthread_cond_t idle; /* the other workers wait here */
} fleet = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define FDS_PER_TRANSPORT 3 /* its UDP socket, libcoap's epoll fd and timer fd */
#define FDS_SPARE 64        /* stdio, the factory files, the link threads' own */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Descriptors this process has open now. */
static size_t fds_open(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n ? n - 1 : 0; /* not the directory's own */
}

static void heap_push(struct fleet_device *d);

/* Take a free radio at once, if one is free. */
static bool radio_try(void)
{
    pthread_mutex_lock(&fleet.lock);
    bool ok = fleet.radios_free > 0;
    if (ok)
        fleet.radios_free--;
    pthread_mutex_unlock(&fleet.lock);
    return ok;
}

/* Give a radio back: to the first device waiting for one (due now), else to the pool. */
static void radio_give(void)
{
    pthread_mutex_lock(&fleet.lock);
    struct fleet_device *d = fleet.waiting;
    if (d) {
        fleet.waiting = d->next_waiting;
        if (!fleet.waiting)
            fleet.waiting_tail = &fleet.waiting;
        d->has_radio = true;
        d->due_ms = now_ms();
        heap_push(d);
        pthread_cond_signal(&fleet.wake);
    } else {
        fleet.radios_free++;
    }
    pthread_mutex_unlock(&fleet.lock);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t storm_ms(void)
{
    return fleet.o.storm_at_s >= 0 ? fleet.t0_ms + (uint64_t)(fleet.o.storm_at_s * 1000) : 0;
}

/* ---- the schedule: a min-heap of devices by due_ms, under fleet.lock ---- */

static void heap_swap(size_t i, size_t j)
{
    struct fleet_device *t = fleet.heap[i];
    fleet.heap[i] = fleet.heap[j];
    fleet.heap[j] = t;
}

static void heap_push(struct fleet_device *d)
{
    size_t i = fleet.heap_n++;
    fleet.heap[i] = d;
    while (i > 0 && fleet.heap[(i - 1) / 2]->due_ms > fleet.heap[i]->due_ms) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct fleet_device *heap_pop(void)
{
    struct fleet_device *top = fleet.heap[0];
    fleet.heap[0] = fleet.heap[--fleet.heap_n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < fleet.heap_n && fleet.heap[l]->due_ms < fleet.heap[m]->due_ms)
            m = l;
        if (r < fleet.heap_n && fleet.heap[r]->due_ms < fleet.heap[m]->due_ms)
            m = r;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
    return top;
}


/* Build a device's board: the factory's layout over copy-on-write views of its flash. */
static int device_init(struct fleet_device *d)
{
    const struct sim_board *fb = &fleet.factory;
    for (size_t i = 0; i < fb->flash_count; i++) {
        const struct simflash *sf = &fb->flash[i];
        if (sim_cowflash_open(&d->flash[i], &sf->port, sf->mem, sf->size) != 0)
            return -1;
    }
    for (size_t r = 0; r < fb->layout.count; r++) {
        d->regions[r] = fb->regions[r];
        for (size_t i = 0; i < fb->flash_count; i++)
            if (fb->regions[r].flash == &fb->flash[i].port)
                d->regions[r].flash = &d->flash[i].port;
    }
    d->layout = fb->layout;
    d->layout.regions = d->regions;
    d->agent = malloc(sizeof *d->agent);
    return d->agent ? 0 : -1;
}

static void device_free(struct fleet_device *d)
{
    for (size_t i = 0; i < SIM_BOARD_MAX_FLASH; i++)
        sim_cowflash_close(&d->flash[i]);
    free(d->agent);
    d->agent = NULL;
    sim_link_stop(d->link);
    d->link = NULL;
}

/* Add what the transport did since `seen` to the totals. Between sessions, every DTLS
 * session it started either completed its handshake or failed. */
static void count_transport(struct al_coap_transport *t, struct al_coap_stats *seen)
{
    const struct al_coap_stats *s = al_coap_stats(t);
    uint32_t ok = s->handshakes - seen->handshakes, started = s->sessions - seen->sessions;
    atomic_fetch_add(&stats.handshakes, ok);
    atomic_fetch_add(&stats.handshake_failures, started > ok ? started - ok : 0);
    *seen = *s;
}

static void close_transport(struct al_coap_transport **t, struct al_coap_stats *seen)
{
    if (!*t)
        return;
    count_transport(*t, seen);
    al_coap_close(*t);
    *t = NULL;
    *seen = (struct al_coap_stats){0};
    radio_give();
}

/*
 * One step of a device's life, as airlift-device run: boot, report, download, install,
 * reset, confirm (unless bad firmware), then sleep (sleepy: the modem drops the DTLS session)
 * or wait for the next check-in (always on: the session is kept while airliftd keeps it).
 * `stormed`: the storm came since its last step. Sets d->due_ms (its next step), or
 * d->ended.
 */
static void device_step(struct fleet_device *d, bool stormed)
{
    const struct run_opts *o = &fleet.o;
    bool sleepy = d->kind & KIND_SLEEPY, never_confirm = d->kind & KIND_NEVER_CONFIRM;
    bool crash_at_boot = d->kind & KIND_CRASH_AT_BOOT, keep = !sleepy && o->period_s + 5 < o->server_idle_s;
    char err[256];
    uint16_t port = d->link ? d->link_port : o->port;
    struct al_coap_config cc = {d->link ? "127.0.0.1" : o->server, port, d->row->identity,
                                d->row->psk, d->row->psk_len, false, 20000, 0, false, 0,
                                NULL, NULL, NULL, NULL, NULL}; /* issue 14 (creds): PSK devices */
    struct al_session_result r;
    if (stormed) { /* the storm: every device loses its session and powers back on now */
        d->why = AL_RESET_POWER_ON;
        d->boot = true;
        close_transport(&d->coap, &d->seen);
    }
    if (d->boot && (d->why != AL_RESET_POWER_ON || sleepy || !keep))
        close_transport(&d->coap, &d->seen); /* a reset or a deep sleep drops the modem */
    if (!keep)
        close_transport(&d->coap, &d->seen); /* airliftd would end the session before the next check-in */
    if (!d->coap && !d->has_radio && !radio_try()) {
        d->wants_radio = true; /* the worker queues it for the next radio given back */
        return;
    }
    d->has_radio = false; /* the transport holds it from here */
    if (!d->coap && al_coap_open(&d->coap, &cc, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, d->row->name, err);
        radio_give();
        d->ended = true;
        return;
    }
    if (d->boot) {
        struct al_device_config cfg = {
            .layout = &d->layout,
            .crypto = fleet_crypto(),
            .keys = &fleet.keyring,
            .platform = (uint16_t)fleet.conf.platform,
            .scratch = d->scratch,
            .scratch_len = sizeof d->scratch,
        };
        al_err e = al_device_open(&d->dev, &cfg); /* RAM state is rebuilt from flash */
        if (e == AL_OK)
            e = al_boot(&d->dev, d->why, &d->info);
        if (e != AL_OK) {
            fprintf(stderr, "%s: %s: boot: %s\n", prog, d->row->name, al_strerror(e));
            d->ended = true;
            return;
        }
        atomic_fetch_add(&stats.boots, 1);
        if (d->info.installed) {
            atomic_fetch_add(&stats.installed, 1);
            d->installed_once = true;
        }
        if (d->info.reverted) {
            atomic_fetch_add(&stats.reverted, 1);
            if (d->installed_once)
                atomic_store(&d->updated, true);
        }
        d->why = AL_RESET_POWER_ON;
        if (crash_at_boot && al_boot_state(&d->dev) == AL_BOOT_TRIAL) {
            atomic_fetch_add(&stats.crashes, 1);
            d->why = AL_RESET_FAULT;
            d->due_ms = now_ms(); /* it boots again at once */
            return;
        }
    }
    al_agent_init(d->agent, &d->dev, al_coap_port(d->coap));
    d->agent->flags |= (uint8_t)((d->boot && (d->info.installed || d->info.reverted) ? AL_INV_AFTER_INSTALL : 0) |
                                 (sleepy ? AL_INV_SLEEPY : 0));
    d->agent->next_checkin_s = (uint16_t)(sleepy ? (o->sleep_s > 65535 ? 65535 : o->sleep_s) : 0);
    d->agent->hold_confirm = never_confirm;
    d->boot = false;
    atomic_fetch_add(&stats.sessions, 1);
    atomic_fetch_add(&stats.in_session, 1);
    al_err e = al_agent_session(d->agent, &r);
    atomic_fetch_sub(&stats.in_session, 1);
    count_transport(d->coap, &d->seen);
    if (e != AL_OK) {
        atomic_fetch_add(&stats.session_errors, 1);
        atomic_store(&d->up_to_date, false);
        close_transport(&d->coap, &d->seen);
        d->boot = sleepy || e == AL_ERR_POWER_LOSS; /* a sleepy device sleeps; else it retries */
        /* Back off like a modem: retry_ms, doubling per failure in a row up to 64 times
         * that, plus up to as much again at random, so failures do not come back in step. */
        uint64_t backoff = (uint64_t)o->retry_ms << (d->failures < 6 ? d->failures : 6);
        d->failures++;
        d->due_ms = now_ms() + (sleepy ? o->sleep_s * 1000ull : backoff + rng_next(&d->rng) % (backoff + 1));
        return;
    }
    d->failures = 0;
    atomic_fetch_add(&stats.checkins, 1);
    atomic_fetch_add(&stats.bytes_fetched, r.bytes_fetched);
    if (r.confirmed) {
        atomic_fetch_add(&stats.confirmed, 1);
        if (d->installed_once)
            atomic_store(&d->updated, true);
    }
    atomic_store(&d->up_to_date, r.up_to_date && al_boot_state(&d->dev) != AL_BOOT_TRIAL);
    if (r.reset_needed) {
        atomic_fetch_add(&stats.downloads, 1);
        d->why = AL_RESET_SOFTWARE;
        d->boot = true;
        d->due_ms = now_ms();
        return;
    }
    if (never_confirm && al_boot_state(&d->dev) == AL_BOOT_TRIAL) {
        atomic_fetch_add(&stats.watchdog_resets, 1);
        d->why = AL_RESET_WATCHDOG;
        d->boot = true;
        d->due_ms = now_ms();
        return;
    }
    d->due_ms = now_ms() + (sleepy ? o->sleep_s : o->period_s) * 1000ull;
    d->boot = sleepy; /* the Electron's deep sleep ends in a reset */
    /* Ending its session (DTLS close_notify) lets airliftd free it at once: a sleepy device
     * sleeps, an always-on one would find it ended by airliftd before its next check-in;
     * either way its transport (a radio) is free for another device meanwhile. */
    if (sleepy || !keep)
        close_transport(&d->coap, &d->seen);
}

/*
 * A session worker: runs the earliest due device's next step, again and again, until the
 * end of the run. One worker at a time (the leader) waits for the schedule's earliest due
 * time; the others wait for the leader to take a device. A device that would sleep past
 * the storm is due at the storm (as it loses power then).
 */
static void *session_worker(void *arg)
{
    (void)arg;
    uint64_t storm = storm_ms();
    pthread_mutex_lock(&fleet.lock);
    while (!atomic_load(&fleet.stop)) {
        if (fleet.leader) {
            pthread_cond_wait(&fleet.idle, &fleet.lock);
            continue;
        }
        fleet.leader = true;
        while (!atomic_load(&fleet.stop)) {
            if (!fleet.heap_n) {
                pthread_cond_wait(&fleet.wake, &fleet.lock);
                continue;
            }
            uint64_t due = fleet.heap[0]->due_ms;
            if (due <= now_ms())
                break;
            struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000L};
            pthread_cond_timedwait(&fleet.wake, &fleet.lock, &ts);
        }
        fleet.leader = false;
        if (atomic_load(&fleet.stop))
            break;
        struct fleet_device *d = heap_pop();
        pthread_cond_signal(&fleet.idle); /* another worker leads now */
        pthread_mutex_unlock(&fleet.lock);
        bool stormed = storm && !d->stormed && now_ms() >= storm;
        d->stormed |= stormed;
        device_step(d, stormed);
        pthread_mutex_lock(&fleet.lock);
        if (d->ended)
            continue;
        if (d->wants_radio) {
            d->wants_radio = false;
            atomic_fetch_add(&stats.radio_waits, 1);
            if (fleet.radios_free > 0) { /* one came back meanwhile */
                fleet.radios_free--;
                d->has_radio = true;
            } else {
                d->next_waiting = NULL;
                *fleet.waiting_tail = d;
                fleet.waiting_tail = &d->next_waiting;
                continue;
            }
        }
        if (storm && !d->stormed && d->due_ms > storm)
            d->due_ms = storm;
        heap_push(d);
        if (fleet.heap[0] == d)
            pthread_cond_signal(&fleet.wake); /* the leader waits for a later one */
    }
    pthread_mutex_unlock(&fleet.lock);
    atomic_fetch_sub(&stats.live_threads, 1);
    return NULL;
}

/* ---- run: mix, status, summary ---------------------------------------------------------- */

/* Mark `bit` on the devices spec names: by prefix, or a seeded random choice of the count. */
static void assign(struct fleet_device *devs, size_t n, const struct mix_spec *s, unsigned bit,
                   uint64_t seed)
{
    if (!s->given)
        return;
    if (s->prefix[0]) {
        for (size_t i = 0; i < n; i++)
            if (strncmp(devs[i].row->name, s->prefix, strlen(s->prefix)) == 0)
                devs[i].kind |= bit;
        return;
    }
    size_t want = s->is_percent ? (size_t)(s->percent * (double)n / 100.0 + 0.5) : s->count;
    if (want > n)
        want = n;
    size_t *order = malloc(n * sizeof *order);
    if (!order)
        return;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(rng_next(&seed) % i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < want; i++)
        devs[order[i]].kind |= bit;
    free(order);
}

static uint64_t rss_bytes(const char *field)
{
    char line[256];
    uint64_t kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0)
            kb = strtoull(line + strlen(field), NULL, 10);
    fclose(f);
    return kb * 1024;
}

static double cpu_s(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return *user + *sys;
}

static size_t count_done(const struct fleet_device *devs, size_t n, size_t *up_to_date)
{
    size_t done = 0, utd = 0;
    for (size_t i = 0; i < n; i++) {
        bool u = atomic_load(&devs[i].up_to_date);
        utd += u;
        done += u && atomic_load(&devs[i].updated);
    }
    *up_to_date = utd;
    return done;
}

static void status_line(const struct fleet_device *devs, size_t n, double t)
{
    size_t utd, done = count_done(devs, n, &utd);
    fprintf(stderr,
            "[%6.1fs] devices %zu, in session %" PRIuFAST64 ", check-ins %" PRIuFAST64
            ", errors %" PRIuFAST64 ", handshakes %" PRIuFAST64 " (failed %" PRIuFAST64
            "), installed %" PRIuFAST64 ", confirmed %" PRIuFAST64 ", reverted %" PRIuFAST64
            ", up to date %zu, updated %zu\n",
            t, n, atomic_load(&stats.in_session), atomic_load(&stats.checkins),
            atomic_load(&stats.session_errors), atomic_load(&stats.handshakes),
            atomic_load(&stats.handshake_failures), atomic_load(&stats.installed),
            atomic_load(&stats.confirmed), atomic_load(&stats.reverted), utd, done);
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int load_factory(const char *dir)
{
    char fdir[4096];
    if (factory_dir(dir, fdir, sizeof fdir) != 0 || sim_conf_load(fdir, &fleet.conf, prog) != 0)
        return -1;
    if (sim_board_open(&fleet.factory, fleet.conf.board, fdir) != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, fdir, fleet.factory.error);
        return -1;
    }
    fleet.keyring = (struct al_keyring){fleet.conf.keys, fleet.conf.key_count};
    return 0;
}

static int parse_run(int argc, char **argv, struct run_opts *o, const char **dir)
{
    const char *server = NULL;
    double d;
    *o = (struct run_opts){.period_s = 20, .sleep_s = 60, .server_idle_s = 30, .jitter_s = 10,
                           .storm_at_s = -1, .retry_ms = 1000, .status_every_s = 5, .seed = 1,
#if defined(__SANITIZE_ADDRESS__)
                           .stack_kb = 1024,
#else
                           .stack_kb = 256,
#endif
    };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        struct mix_spec *spec = strcmp(a, "--sleepy") == 0          ? &o->sleepy
                                : strcmp(a, "--lossy") == 0         ? &o->lossy
                                : strcmp(a, "--never-confirm") == 0 ? &o->never_confirm
                                : strcmp(a, "--crash-at-boot") == 0 ? &o->crash_at_boot
                                                                    : NULL;
        if (spec) {
            if (!v || parse_spec(a, v, spec) != 0)
                return spec && !v ? (fprintf(stderr, "%s: run: %s needs SPEC\n", prog, a), -1) : -1;
            i++;
            continue;
        }
        if (strcmp(a, "--until-updated") == 0) { o->until_updated = true; continue; }
        if (strcmp(a, "--server") == 0 && v) { server = v; i++; continue; }
        if (a[0] != '-' && !*dir) { *dir = a; continue; }
        static const struct { const char *name; double lo, hi; } nums[] = {
            {"--duration", 0, 1e7}, {"--limit", 1, 1e7}, {"--period", 1, 86400}, {"--sleep", 1, 86400},
            {"--server-idle", 1, 3600}, {"--jitter", 0, 86400}, {"--storm-at", 0, 1e7},
            {"--retry-ms", 1, 3.6e6}, {"--status-every", 0.1, 3600}, {"--seed", 0, 4294967295.0},
            {"--stack-kb", 64, 65536}, {"--loss", 0, 1}, {"--duplicate", 0, 1}, {"--reorder", 0, 1},
            {"--latency", 0, 60000}, {"--bandwidth", 0, 1e9}, {"--skip", 0, 1e7},
            {"--radios", 1, 1e7},
        };
        size_t k = 0;
        while (k < sizeof nums / sizeof nums[0] && strcmp(a, nums[k].name) != 0)
            k++;
        if (k == sizeof nums / sizeof nums[0]) {
            fprintf(stderr, "%s: run: unexpected argument '%s'\n", prog, a);
            return -1;
        }
        if (parse_num(a, v, nums[k].lo, nums[k].hi, &d) != 0)
            return -1;
        i++;
        switch (k) {
        case 0: o->duration_s = d; break;
        case 1: o->limit = (size_t)d; break;
        case 2: o->period_s = (unsigned)d; break;
        case 3: o->sleep_s = (unsigned)d; break;
        case 4: o->server_idle_s = (unsigned)d; break;
        case 5: o->jitter_s = d; break;
        case 6: o->storm_at_s = d; break;
        case 7: o->retry_ms = (unsigned)d; break;
        case 8: o->status_every_s = d; break;
        case 9: o->seed = (uint32_t)d; break;
        case 10: o->stack_kb = (size_t)d; break;
        case 11: o->link.loss = d; break;
        case 12: o->link.duplicate = d; break;
        case 13: o->link.reorder = d; break;
        case 14: o->link.latency_ms = (uint32_t)d; break;
        case 15: o->link.bandwidth_bps = (uint32_t)d; break;
        case 16: o->skip = (size_t)d; break;
        default: o->radios = (size_t)d; break;
        }
    }
    if (!*dir || !server) {
        fprintf(stderr, "%s: run needs DIR and --server ADDR:PORT\n", prog);
        return -1;
    }
    const char *colon = strrchr(server, ':');
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    struct in_addr ia;
    if (!colon || !end || *end || port == 0 || port > 65535 ||
        (size_t)(colon - server) >= sizeof o->server) {
        fprintf(stderr, "%s: run: --server must be ADDR:PORT (numeric IPv4), not '%s'\n", prog, server);
        return -1;
    }
    memcpy(o->server, server, (size_t)(colon - server));
    o->server[colon - server] = '\0';
    if (inet_pton(AF_INET, o->server, &ia) != 1) {
        fprintf(stderr, "%s: run: --server must be a numeric IPv4 address, not '%s'\n", prog, o->server);
        return -1;
    }
    o->port = (uint16_t)port;
    if (!o->until_updated && o->duration_s == 0) {
        fprintf(stderr, "%s: run needs --duration S, --until-updated, or both\n", prog);
        return -1;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    const char *dir = NULL;
    struct fleet_row *rows = NULL;
    struct fleet_device *devs = NULL;
    size_t n = 0;
    int rc = FLEET_EXIT_USAGE;
    if (parse_run(argc, argv, &fleet.o, &dir) != 0)
        return FLEET_EXIT_USAGE;
    const struct run_opts *o = &fleet.o;
    if (fleet_rows_load(dir, &rows, &n) != 0)
        return FLEET_EXIT_FILE;
    if (o->skip >= n) {
        fprintf(stderr, "%s: --skip %zu leaves none of the %zu devices of %s\n", prog, o->skip, n, dir);
        free(rows);
        return FLEET_EXIT_USAGE;
    }
    struct fleet_row *all_rows = rows; /* freed at the end */
    rows += o->skip;
    n -= o->skip;
    if (o->limit && o->limit < n)
        n = o->limit;
    if (load_factory(dir) != 0) {
        free(all_rows);
        return FLEET_EXIT_FILE;
    }
    /* Every device has a socket (and libcoap an epoll and a timer fd): take every fd allowed. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    coap_startup();
    coap_set_log_level(LOG_EMERG);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fleet.wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&fleet.radio_freed, NULL);
    pthread_cond_init(&fleet.idle, NULL);
    fleet.waiting_tail = &fleet.waiting;

    uint64_t rss_base = rss_bytes("VmRSS:");
    devs = calloc(n, sizeof *devs);
    if (!devs) {
        fprintf(stderr, "%s: out of memory for %zu devices\n", prog, n);
        rc = FLEET_EXIT_INTERNAL;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        devs[i].index = i;
        devs[i].row = &rows[i];
        devs[i].rng = ((uint64_t)o->seed << 32) ^ (i * 0x9e3779b97f4a7c15ull);
    }
    assign(devs, n, &o->sleepy, KIND_SLEEPY, o->seed * 4u + 1);
    assign(devs, n, &o->lossy, KIND_LOSSY, o->seed * 4u + 2);
    assign(devs, n, &o->never_confirm, KIND_NEVER_CONFIRM, o->seed * 4u + 3);
    assign(devs, n, &o->crash_at_boot, KIND_CRASH_AT_BOOT, o->seed * 4u + 4);
    size_t mix[4] = {0}, lossy_started = 0;
    struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(o->port)};
    inet_pton(AF_INET, o->server, &srv.sin_addr);
    for (size_t i = 0; i < n; i++) {
        struct fleet_device *d = &devs[i];
        for (int b = 0; b < 4; b++)
            mix[b] += (d->kind >> b) & 1u;
        if (device_init(d) != 0) {
            fprintf(stderr, "%s: cannot build device %s (out of memory?)\n", prog, d->row->name);
            rc = FLEET_EXIT_INTERNAL;
            goto out;
        }
        if (d->kind & KIND_LOSSY) {
            struct sim_link_config lk = o->link;
            lk.seed = o->seed * 7919u + (uint32_t)i;
            if (sim_link_start(&d->link, &lk, &srv, &d->link_port) != 0) {
                fprintf(stderr, "%s: cannot start the simulated link of %s\n", prog, d->row->name);
                rc = FLEET_EXIT_INTERNAL;
                goto out;
            }
            lossy_started++;
        }
    }
    /* The radios the open-file limit leaves: a lossy link's two sockets are its own. */
    uint64_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 1024;
    uint64_t left = fds > FDS_SPARE + 2 * lossy_started ? fds - FDS_SPARE - 2 * lossy_started : 0;
    fleet.radios = (size_t)(left / FDS_PER_TRANSPORT < n ? left / FDS_PER_TRANSPORT : n);
    /* libcoap 4.3.1's GnuTLS flavour polls a DTLS session's socket with select(2) (its
     * receive_timeout), which aborts the process on a descriptor of FD_SETSIZE or more: every
     * transport's descriptors must fit below it, beside those open now. */
    size_t open_now = fds_open();
    size_t below = FD_SETSIZE > open_now + FDS_SPARE ? FD_SETSIZE - open_now - FDS_SPARE : 0;
    if (below / FDS_PER_TRANSPORT < fleet.radios)
        fleet.radios = below / FDS_PER_TRANSPORT;
    if (fleet.radios == 0) {
        fprintf(stderr, "%s: no descriptor below FD_SETSIZE (%d) is left for a transport: %zu are "
                        "open (%zu lossy links hold 2 each); run fewer lossy devices per process\n",
                prog, FD_SETSIZE, open_now, lossy_started);
        rc = FLEET_EXIT_USAGE;
        goto out;
    }
    if (o->radios && o->radios < fleet.radios)
        fleet.radios = o->radios;
    fleet.radios_free = fleet.radios;
    size_t kept = o->period_s + 5 < o->server_idle_s ? n - mix[0] : 0; /* always on, session kept */
    if (kept > fleet.radios || (kept == fleet.radios && kept < n)) {
        fprintf(stderr, "%s: %zu always-on devices keep their sessions, but only %zu transports fit in "
                        "the open-file limit (%" PRIu64 "): run fewer, make them sleepy, or raise "
                        "`ulimit -n`\n", prog, kept, fleet.radios, fds);
        rc = FLEET_EXIT_USAGE;
        goto out;
    }
    fprintf(stderr, "%s: %zu devices (%zu sleepy, %zu on lossy links, %zu never confirm, %zu crash at boot) -> %s:%u; %zu in session at most\n",
            prog, n, mix[0], mix[1], mix[2], mix[3], o->server, o->port, fleet.radios);
    /* Every device on the schedule, due at its first session; then the session workers, as
     * many as may be in session at once. */
    fleet.heap = calloc(n, sizeof *fleet.heap);
    pthread_t *workers = calloc(fleet.radios, sizeof *workers);
    size_t nworkers = 0;
    if (!fleet.heap || !workers) {
        fprintf(stderr, "%s: out of memory for the schedule of %zu devices\n", prog, n);
        free(workers);
        rc = FLEET_EXIT_INTERNAL;
        goto out;
    }
    fleet.t0_ms = now_ms();
    for (size_t i = 0; i < n; i++) {
        struct fleet_device *d = &devs[i];
        d->why = AL_RESET_POWER_ON;
        d->boot = true;
        d->due_ms = fleet.t0_ms + (o->jitter_s > 0 ? rng_next(&d->rng) % (uint64_t)(o->jitter_s * 1000) : 0);
        uint64_t storm = storm_ms();
        if (storm && d->due_ms > storm)
            d->due_ms = storm;
        heap_push(d);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, o->stack_kb * 1024);
    double cpu_user0, cpu_sys0, cpu0 = cpu_s(&cpu_user0, &cpu_sys0);
    for (; nworkers < fleet.radios; nworkers++) {
        atomic_fetch_add(&stats.live_threads, 1);
        int e = pthread_create(&workers[nworkers], &attr, session_worker, NULL);
        if (e != 0) {
            atomic_fetch_sub(&stats.live_threads, 1);
            if (nworkers > 0) { /* fewer in session at once than the limit allows: say so */
                fprintf(stderr, "%s: %zu session workers (the thread limit: %s)\n", prog,
                        nworkers, strerror(e));
                break;
            }
            fprintf(stderr, "%s: cannot start a session worker: %s\n", prog, strerror(e));
            rc = FLEET_EXIT_INTERNAL;
            break;
        }
    }
    pthread_attr_destroy(&attr);
    bool goal = false, storm_sent = false;
    uint64_t last_status = fleet.t0_ms;
    uint64_t rss_peak_run = 0;
    while (rc != FLEET_EXIT_INTERNAL && !interrupted) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        uint64_t now = now_ms();
        double t = (double)(now - fleet.t0_ms) / 1000.0;
        size_t utd;
        if (!storm_sent && storm_ms() && now >= storm_ms()) {
            storm_sent = true;
            fprintf(stderr, "%s: the storm: every device drops its session and comes back now\n", prog);
            pthread_mutex_lock(&fleet.lock);
            pthread_cond_broadcast(&fleet.wake);
            pthread_mutex_unlock(&fleet.lock);
        }
        if ((double)(now - last_status) >= o->status_every_s * 1000) {
            last_status = now;
            status_line(devs, n, t);
            uint64_t r = rss_bytes("VmRSS:");
            rss_peak_run = r > rss_peak_run ? r : rss_peak_run;
        }
        if (o->until_updated && count_done(devs, n, &utd) == n) {
            goal = true;
            break;
        }
        if (o->duration_s > 0 && t >= o->duration_s) {
            goal = !o->until_updated;
            break;
        }
    }
    double elapsed = (double)(now_ms() - fleet.t0_ms) / 1000.0;
    uint64_t rss_end = rss_bytes("VmRSS:");
    rss_peak_run = rss_end > rss_peak_run ? rss_end : rss_peak_run;
    double cpu_user, cpu_sys, cpu = cpu_s(&cpu_user, &cpu_sys) - cpu0;
    cpu_user -= cpu_user0;
    cpu_sys -= cpu_sys0;
    status_line(devs, n, elapsed);
    /* Counted now, at the goal: a session still running while the fleet stops may fail
     * (a lossy link) and must not un-count a device that had already made it. */
    size_t utd, done = count_done(devs, n, &utd);
    /* Stop: devices asleep end at once; one in a session ends when its session does. */
    atomic_store(&fleet.stop, true);
    pthread_mutex_lock(&fleet.lock);
    pthread_cond_broadcast(&fleet.wake);
    pthread_cond_broadcast(&fleet.idle);
    pthread_cond_broadcast(&fleet.radio_freed);
    pthread_mutex_unlock(&fleet.lock);
    uint64_t give_up = now_ms() + 60000;
    while (atomic_load(&stats.live_threads) > 0 && now_ms() < give_up) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    bool all_ended = atomic_load(&stats.live_threads) == 0;
    for (size_t i = 0; all_ended && i < nworkers; i++)
        pthread_join(workers[i], NULL);
    if (all_ended)
        free(workers);
    for (size_t i = 0; all_ended && i < n; i++) /* the sessions kept between check-ins */
        close_transport(&devs[i].coap, &devs[i].seen);
    uint64_t up = 0, down = 0, dropped = 0, own_pages = 0;
    for (size_t i = 0; i < n; i++) {
        if (devs[i].link) {
            const struct sim_link_stats *st = sim_link_stats(devs[i].link);
            up += atomic_load(&st->up_bytes);
            down += atomic_load(&st->down_bytes);
            dropped += atomic_load(&st->dropped);
        }
        for (size_t f = 0; f < SIM_BOARD_MAX_FLASH; f++)
            own_pages += devs[i].flash[f].own_pages;
    }
    uint64_t checkins = atomic_load(&stats.checkins), vrem, vcomp;
    fleet_crypto_counts(&vrem, &vcomp);
    printf("{\"devices\":%zu,\"elapsed_s\":%.3f,\"goal\":\"%s\",\"goal_met\":%s,"
           "\"mix\":{\"always_on\":%zu,\"sleepy\":%zu,\"lossy\":%zu,\"never_confirm\":%zu,\"crash_at_boot\":%zu},"
           "\"boots\":%" PRIuFAST64 ",\"sessions\":%" PRIuFAST64 ",\"checkins\":%" PRIu64 ",\"session_errors\":%" PRIuFAST64 ","
           "\"checkins_per_s\":%.1f,\"transports\":{\"at_once\":%zu,\"waits\":%" PRIuFAST64 "},"
           "\"handshakes\":{\"ok\":%" PRIuFAST64 ",\"failed\":%" PRIuFAST64 "},"
           "\"updates\":{\"downloaded\":%" PRIuFAST64 ",\"installed\":%" PRIuFAST64 ",\"confirmed\":%" PRIuFAST64
           ",\"reverted\":%" PRIuFAST64 ",\"crashes_at_boot\":%" PRIuFAST64 ",\"watchdog_resets\":%" PRIuFAST64 "},"
           "\"up_to_date\":%zu,\"updated\":%zu,\"payload_bytes_fetched\":%" PRIuFAST64 ","
           "\"link\":{\"devices\":%zu,\"bytes_up\":%" PRIu64 ",\"bytes_down\":%" PRIu64 ",\"dropped\":%" PRIu64 "},"
           "\"memory\":{\"rss_bytes\":%" PRIu64 ",\"rss_peak_bytes\":%" PRIu64 ",\"rss_before_devices_bytes\":%" PRIu64
           ",\"rss_per_device_bytes\":%.0f,\"flash_pages_written\":%" PRIu64 ",\"stack_kb\":%zu},"
           "\"cpu_s\":{\"user\":%.3f,\"system\":%.3f,\"total\":%.3f},\"cpu_ms_per_checkin\":%.3f,"
           "\"verifications\":{\"computed\":%" PRIu64 ",\"remembered\":%" PRIu64 "},"
           "\"all_threads_ended\":%s}\n",
           n, elapsed, o->until_updated ? "until-updated" : "duration", goal ? "true" : "false",
           n - mix[0], mix[0], mix[1], mix[2], mix[3], atomic_load(&stats.boots), atomic_load(&stats.sessions), checkins,
           atomic_load(&stats.session_errors), elapsed > 0 ? (double)checkins / elapsed : 0.0,
           fleet.radios, atomic_load(&stats.radio_waits), atomic_load(&stats.handshakes), atomic_load(&stats.handshake_failures),
           atomic_load(&stats.downloads), atomic_load(&stats.installed), atomic_load(&stats.confirmed),
           atomic_load(&stats.reverted), atomic_load(&stats.crashes), atomic_load(&stats.watchdog_resets),
           utd, done, atomic_load(&stats.bytes_fetched), lossy_started, up, down, dropped, rss_end,
           rss_peak_run, rss_base, n ? (double)(rss_peak_run - rss_base) / (double)n : 0.0, own_pages,
           o->stack_kb, cpu_user, cpu_sys, cpu, checkins ? cpu * 1000.0 / (double)checkins : 0.0,
           vcomp, vrem, all_ended ? "true" : "false");
    fflush(stdout);
    if (!all_ended) {
        /* A device still in a session owns its memory: leave it to the exit. */
        fprintf(stderr, "%s: %" PRIuFAST64 " session workers were still in a session after 60 s\n", prog,
                atomic_load(&stats.live_threads));
        _exit(goal ? FLEET_EXIT_OK : FLEET_EXIT_TIMEOUT);
    }
    if (rc != FLEET_EXIT_INTERNAL)
        rc = goal ? FLEET_EXIT_OK : FLEET_EXIT_TIMEOUT;
out:
    if (devs) {
        for (size_t i = 0; i < n; i++)
            device_free(&devs[i]);
    }
    free(devs);
    free(fleet.heap);
    free(all_rows);
    sim_board_close(&fleet.factory);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FLEET_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return FLEET_EXIT_OK;
    }
    if (strcmp(cmd, "provision") == 0) return fleet_cmd_provision(argc - 2, argv + 2);
    if (strcmp(cmd, "factory") == 0) return cmd_factory(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
    usage(stderr);
    return FLEET_EXIT_USAGE;
}
