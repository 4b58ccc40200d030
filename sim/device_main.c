/*
 * airlift-device - a simulated device: the real libairlift on a simulated board whose flash
 * lives in files of a folder, so it keeps its state between runs like a real device.
 *
 *   airlift-device create DIR --trust KEY.pem [--board electron|pages4k|nrf52840] [--platform N]
 *   airlift-device factory DIR IMAGE...     program images straight into their slots
 *   airlift-device install DIR IMAGE [--no-confirm] [--chunk N]
 *   airlift-device boot DIR [--reset power|software|watchdog|crash] [--confirm]
 *   airlift-device show DIR [--json]
 *   airlift-device provision DIR --server ADDR:PORT --identity ID --psk HEX
 *   airlift-device run DIR [--until-idle] [--never-confirm] [--crash-at-boot] [--sleep S]
 *                          [--loss P] [--latency MS] [--bandwidth BPS] [--same-port] ...
 *
 * Exit codes: 0 ok, 1 internal error, 2 usage, 3 file error, 4 image refused by the device,
 * 5 key error, 8 the install was reverted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <time.h>

#include "airlift/agent.h"
#include "airlift/install.h"
#include "airlift_common/atomic_file.h"
#include "airlift_common/buf.h"
#include "airlift_common/hex.h"
#include "airlift_common/parse.h"
#include "airlift_common/platform.h"
#include "coap_transport.h"
#include "link.h"
#include "airlift_host/keys.h"
#include "al_host_crypto.h"
#include "board.h"
#include "devconf.h"

enum { EXIT_OK = 0, EXIT_INTERNAL = 1, EXIT_USAGE = 2, EXIT_FILE = 3, EXIT_REFUSED = 4,
       EXIT_KEY = 5, EXIT_REVERTED = 8 };

struct sim_device {
    char dir[512];
    struct sim_conf conf;
    struct sim_board board;
    struct al_keyring keyring;
    uint8_t scratch[1024];
    struct al_device dev;
};

static const char *prog = "airlift-device";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: airlift-device COMMAND DIR [options]\n"
            "  create DIR --trust KEY.pem [--board electron|pages4k|nrf52840] [--platform N]\n"
            "  factory DIR IMAGE...           program images straight into their slots\n"
            "  install DIR IMAGE [--no-confirm] [--chunk N]\n"
            "                                 download into staging, reset, install, boot\n"
            "  boot DIR [--reset power|software|watchdog|crash] [--confirm]\n"
            "  show DIR [--json]\n"
            "  provision DIR --server ADDR:PORT --identity ID --psk HEX [--insecure]\n"
            "  provision DIR --server ADDR:PORT --cert FILE --key FILE [--server-ca FILE]\n"
            "  provision DIR --server ADDR:PORT --pubkey FILE --key FILE [--server-pubkey FILE]\n"
            "                                 an X.509 or a raw public key device (the files\n"
            "                                 are copied into DIR)\n"
            "  run DIR [--until-idle] [--sessions N] [--sleep S] [--never-confirm [--revert-reason T]] [--crash-at-boot]\n"
            "          [--session-bytes N] [--lose-confirm-report] [--retry-ms MS] [--poll-ms MS]\n"
            "          [--loss P] [--duplicate P] [--reorder P] [--latency MS] [--bandwidth BPS]\n"
            "          [--buffer BYTES]\n"
            "          [--mtu BYTES] [--block2] [--no-slots] [--same-port] [--fresh-session]\n"
            "                                 live: boot, report, download, install, confirm\n");
}

/* Power the device on: open its flash files and the engine (no boot yet). */
static int device_open(struct sim_device *d, const char *dir)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    if (sim_conf_load(dir, &d->conf, prog) != 0)
        return EXIT_FILE;
    if (sim_board_open(&d->board, d->conf.board, dir) != 0) {
        fprintf(stderr, "%s: cannot open the %s board in %s\n", prog, d->conf.board, dir);
        return EXIT_FILE;
    }
    d->keyring.keys = d->conf.keys;
    d->keyring.count = d->conf.key_count;
    struct al_device_config cfg = {
        .layout = &d->board.layout,
        .crypto = al_host_crypto(),
        .keys = &d->keyring,
        .platform = (uint16_t)d->conf.platform,
        .scratch = d->scratch,
        .scratch_len = sizeof d->scratch,
    };
    al_err err = al_device_open(&d->dev, &cfg);
    if (err != AL_OK) {
        fprintf(stderr, "%s: device engine: %s\n", prog, al_strerror(err));
        sim_board_close(&d->board);
        return EXIT_INTERNAL;
    }
    return EXIT_OK;
}

static void device_close(struct sim_device *d)
{
    sim_board_close(&d->board);
}

static const char *state_name(enum al_boot_state s)
{
    return s == AL_BOOT_TRIAL ? "on trial" : s == AL_BOOT_REVERTED ? "reverted" : "confirmed";
}

static void print_boot(const struct al_boot_info *info)
{
    if (info->installed)
        printf("boot: installed the staged image; it runs on trial\n");
    if (info->reverted)
        printf("boot: reverted the last install\n");
    printf("boot: runs %s%s%s\n",
           info->target == AL_RUN_APPLICATION ? "the application"
           : info->target == AL_RUN_SAFE_MODE ? "safe mode" : "nothing",
           info->reason[0] ? ": " : "", info->reason);
}

/* The firmware confirms a trial only if the module on trial is actually running: the system
 * runs in safe mode too, an application only when it is started. */
static bool trial_module_runs(struct sim_device *d, const struct al_boot_info *info)
{
    struct al_module_status mods[AL_MAX_MODULES];
    size_t n = 0;
    if (info->target == AL_RUN_NOTHING || al_modules(&d->dev, mods, AL_MAX_MODULES, &n) != AL_OK)
        return false;
    for (size_t i = 0; i < n; i++)
        if (mods[i].on_trial && mods[i].function == AL_FN_APPLICATION)
            return info->target == AL_RUN_APPLICATION;
    return true;
}

static int do_boot(struct sim_device *d, enum al_reset_reason why, bool confirm)
{
    struct al_boot_info info;
    al_err err = al_boot(&d->dev, why, &info);
    if (err != AL_OK) {
        fprintf(stderr, "%s: boot: %s\n", prog, al_strerror(err));
        return EXIT_INTERNAL;
    }
    print_boot(&info);
    if (confirm && info.state == AL_BOOT_TRIAL && trial_module_runs(d, &info)) {
        err = al_confirm(&d->dev);
        if (err != AL_OK) {
            fprintf(stderr, "%s: confirm: %s\n", prog, al_strerror(err));
            return EXIT_INTERNAL;
        }
        printf("firmware: confirmed the new image\n");
    }
    return info.reverted ? EXIT_REVERTED : EXIT_OK;
}

static int cmd_create(int argc, char **argv)
{
    struct sim_conf c = {.platform = 10};
    const char *dir = NULL, *trust = NULL;
    snprintf(c.board, sizeof c.board, "electron");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--trust") == 0 && i + 1 < argc)
            trust = argv[++i];
        else if (strcmp(argv[i], "--board") == 0 && i + 1 < argc)
            snprintf(c.board, sizeof c.board, "%s", argv[++i]);
        else if (strcmp(argv[i], "--platform") == 0 && i + 1 < argc) {
            uint16_t id;
            if (!alc_platform_parse(argv[++i], &id)) {
                fprintf(stderr, "%s: create: --platform '%s': expected a platform name "
                        "(electron, boron, ...) or an id 0..65535\n", prog, argv[i]);
                return EXIT_USAGE;
            }
            c.platform = id;
        }
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            fprintf(stderr, "%s: create: unexpected argument '%s'\n", prog, argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!dir || !trust) {
        fprintf(stderr, "%s: create needs DIR and --trust KEY.pem\n", prog);
        return EXIT_USAGE;
    }
    char err[256];
    alh_key *key = NULL;
    if (alh_key_load(trust, &key, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return EXIT_KEY;
    }
    alh_key_public_point(key, c.keys[0].pub);
    alh_key_id(c.keys[0].pub, c.keys[0].id);
    c.key_count = 1;
    alh_key_free(key);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, dir, strerror(errno));
        return EXIT_FILE;
    }
    struct sim_board b;
    if (sim_board_open(&b, c.board, dir) != 0) {
        fprintf(stderr, "%s: unknown board '%s' (electron, pages4k, nrf52840)\n", prog, c.board);
        return EXIT_USAGE;
    }
    sim_board_close(&b);
    if (sim_conf_save(dir, &c) != 0) {
        fprintf(stderr, "%s: cannot write %s/device.conf\n", prog, dir);
        return EXIT_FILE;
    }
    printf("created a simulated %s device in %s (platform %u)\n", c.board, dir, c.platform);
    return EXIT_OK;
}

static int cmd_factory(int argc, char **argv)
{
    struct sim_device d;
    int rc;
    if (argc < 2) {
        fprintf(stderr, "%s: factory needs DIR and at least one IMAGE\n", prog);
        return EXIT_USAGE;
    }
    if ((rc = device_open(&d, argv[0])) != EXIT_OK)
        return rc;
    for (int i = 1; i < argc && rc == EXIT_OK; i++)
        rc = sim_factory_image(&d.board.layout, &d.keyring, (uint16_t)d.conf.platform, argv[i], prog);
    device_close(&d);
    return rc;
}

static int cmd_install(int argc, char **argv)
{
    struct sim_device d;
    const char *dir = NULL, *path = NULL;
    bool confirm = true;
    unsigned long chunk = 1024;
    uint8_t *img = NULL;
    size_t len;
    int rc;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--no-confirm") == 0)
            confirm = false;
        else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
            chunk = strtoul(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "%s: install: unexpected argument '%s'\n", prog, argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!dir || !path || chunk == 0 || chunk % 8) {
        fprintf(stderr, "%s: install needs DIR and IMAGE (--chunk: a multiple of 8)\n", prog);
        return EXIT_USAGE;
    }
    if (sim_read_image(path, &img, &len, prog) != 0)
        return EXIT_FILE;
    if ((rc = device_open(&d, dir)) != EXIT_OK) {
        free(img);
        return rc;
    }
    al_err err = al_stage_begin(&d.dev, (uint32_t)len);
    for (size_t off = 0; err == AL_OK && off < len; off += chunk)
        err = al_stage_write(&d.dev, (uint32_t)off, img + off, len - off < chunk ? len - off : chunk);
    if (err == AL_OK)
        err = al_install_request(&d.dev);
    if (err != AL_OK) {
        fprintf(stderr, "%s: the device refuses %s: %s%s%s\n", prog, path, al_strerror(err),
                d.dev.refusal[0] ? ": " : "", d.dev.refusal);
        rc = EXIT_REFUSED;
        goto out;
    }
    printf("agent: %zu bytes staged and verified; install requested; resetting\n", len);
    rc = do_boot(&d, AL_RESET_SOFTWARE, confirm);
out:
    device_close(&d);
    free(img);
    return rc;
}

static int cmd_boot(int argc, char **argv)
{
    struct sim_device d;
    const char *dir = NULL;
    enum al_reset_reason why = AL_RESET_POWER_ON;
    bool confirm = false;
    int rc;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--confirm") == 0) {
            confirm = true;
        } else if (strcmp(argv[i], "--reset") == 0 && i + 1 < argc) {
            const char *r = argv[++i];
            if (strcmp(r, "power") == 0) why = AL_RESET_POWER_ON;
            else if (strcmp(r, "software") == 0) why = AL_RESET_SOFTWARE;
            else if (strcmp(r, "watchdog") == 0) why = AL_RESET_WATCHDOG;
            else if (strcmp(r, "crash") == 0) why = AL_RESET_FAULT;
            else {
                fprintf(stderr, "%s: unknown reset reason '%s'\n", prog, r);
                return EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "%s: boot: unexpected argument '%s'\n", prog, argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "%s: boot needs DIR\n", prog);
        return EXIT_USAGE;
    }
    if ((rc = device_open(&d, dir)) != EXIT_OK)
        return rc;
    rc = do_boot(&d, why, confirm);
    device_close(&d);
    return rc;
}

static int cmd_show(int argc, char **argv)
{
    struct sim_device d;
    struct al_module_status mods[AL_MAX_MODULES];
    size_t n = 0;
    bool json = argc > 1 && strcmp(argv[1], "--json") == 0;
    int rc;
    if (argc < 1) {
        fprintf(stderr, "%s: show needs DIR\n", prog);
        return EXIT_USAGE;
    }
    if ((rc = device_open(&d, argv[0])) != EXIT_OK)
        return rc;
    if (al_modules(&d.dev, mods, AL_MAX_MODULES, &n) != AL_OK) {
        device_close(&d);
        return EXIT_INTERNAL;
    }
    const struct al_journal_state *s = &d.dev.state;
    char v[AL_VERSION_STR_MAX], sha[65];
    if (json) {
        printf("{\"board\":\"%s\",\"platform\":%u,\"boot_state\":\"%s\",\"last_result\":\"%s\","
               "\"last_reason\":\"%s\",\"modules\":[",
               d.conf.board, d.conf.platform, state_name(al_boot_state(&d.dev)),
               al_result_name(s->last_result), s->last_reason);
    } else {
        printf("device %s: %s board, platform %u\n", d.dir, d.conf.board, d.conf.platform);
        printf("state: %s; last update: %s%s%s\n", state_name(al_boot_state(&d.dev)),
               al_result_name(s->last_result), s->last_reason[0] ? " - " : "", s->last_reason);
        printf("%-12s %-5s %-14s %-9s %s\n", "MODULE", "INDEX", "VERSION", "BYTES", "SHA-256");
    }
    for (size_t i = 0; i < n; i++) {
        const struct al_module_status *m = &mods[i];
        al_version_format(&m->version, v, sizeof v);
        sim_hex(m->payload_sha256, 32, sha);
        if (json)
            printf("%s{\"function\":\"%s\",\"index\":%u,\"present\":%s,\"on_trial\":%s,"
                   "\"version\":\"%s\",\"size\":%u,\"sha256\":\"%s\"}",
                   i ? "," : "", al_function_name(m->function), m->index,
                   m->present ? "true" : "false", m->on_trial ? "true" : "false",
                   m->present ? v : "", m->size, m->present ? sha : "");
        else if (m->present)
            printf("%-12s %-5u %-14s %-9u %.16s...%s\n", al_function_name(m->function), m->index,
                   v, m->size, sha, m->on_trial ? " (on trial)" : "");
        else
            printf("%-12s %-5u %-14s\n", al_function_name(m->function), m->index, "(empty)");
    }
    if (json)
        printf("]}\n");
    device_close(&d);
    return EXIT_OK;
}

/* issue 14 (creds): copy `from` into DIR/name (mode), as a factory would write it. */
static int copy_in(const char *dir, const char *name, const char *from, unsigned mode)
{
    char path[600];
    uint8_t *data = NULL;
    size_t len = 0;
    if (sim_read_image(from, &data, &len, prog) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = alc_write_file_atomic_mode(path, data, len, mode);
    if (rc != 0)
        fprintf(stderr, "%s: cannot write %s\n", prog, path);
    free(data);
    return rc;
}

/* issue 14 (creds, rpk): provision a device that proves itself with a key pair: an X.509
 * certificate (rpk false; the server's CA, if given, checks the server) or a raw public key
 * (rpk true, RFC 7250; the server's public key, if given, is pinned). Its public part and key
 * (and the server's) go into DIR; the device is found by its key, so it needs no identity. */
static int provision_keypair(const char *dir, const char *server, bool rpk, const char *pub,
                             const char *key, const char *server_file)
{
    const char *flag = rpk ? "--pubkey" : "--cert";
    struct sim_conf c;
    const char *colon = strrchr(server, ':');
    int64_t port = 0;
    if (!pub || !key) {
        fprintf(stderr, "%s: provision: %s and --key go together\n", prog, flag);
        return EXIT_USAGE;
    }
    if (!colon || !alc_parse_i64(colon + 1, 1, 65535, &port) ||
        (size_t)(colon - server) >= sizeof c.server) {
        fprintf(stderr, "%s: --server must be ADDR:PORT (numeric IPv4)\n", prog);
        return EXIT_USAGE;
    }
    if (sim_conf_load(dir, &c, prog) != 0)
        return EXIT_FILE;
    if (copy_in(dir, rpk ? "device.pub" : "device.crt", pub, 0644) != 0 ||
        copy_in(dir, "device.key", key, 0600) != 0 ||
        (server_file && copy_in(dir, rpk ? "server.pub" : "server-ca.pem", server_file, 0644) != 0))
        return EXIT_FILE;
    memcpy(c.server, server, (size_t)(colon - server));
    c.server[colon - server] = '\0';
    c.port = (unsigned)port;
    c.identity[0] = '\0';
    c.psk_len = 0;
    c.insecure = false;
    c.x509 = !rpk;
    c.rpk = rpk;
    c.server_ca = !rpk && server_file != NULL;
    c.server_pubkey = rpk && server_file != NULL;
    if (sim_conf_save(dir, &c) != 0) {
        fprintf(stderr, "%s: cannot write %s/device.conf\n", prog, dir);
        return EXIT_FILE;
    }
    printf("provisioned %s with %s %s for %s:%u\n", dir, rpk ? "raw public key" : "certificate",
           pub, c.server, c.port);
    return EXIT_OK;
}

static int cmd_provision(int argc, char **argv)
{
    struct sim_conf c;
    const char *dir = NULL, *server = NULL, *identity = NULL, *psk = NULL;
    const char *cert = NULL, *key = NULL, *server_ca = NULL; /* issue 14 (creds) */
    const char *pubkey = NULL, *server_pub = NULL; /* issue 14 (rpk) */
    bool insecure = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) server = argv[++i];
        else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc) cert = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) key = argv[++i];
        else if (strcmp(argv[i], "--server-ca") == 0 && i + 1 < argc) server_ca = argv[++i];
        else if (strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc) pubkey = argv[++i];
        else if (strcmp(argv[i], "--server-pubkey") == 0 && i + 1 < argc) server_pub = argv[++i];
        else if (strcmp(argv[i], "--identity") == 0 && i + 1 < argc) identity = argv[++i];
        else if (strcmp(argv[i], "--psk") == 0 && i + 1 < argc) psk = argv[++i];
        else if (strcmp(argv[i], "--insecure") == 0) insecure = true;
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "%s: provision: unexpected argument '%s'\n", prog, argv[i]);
            return EXIT_USAGE;
        }
    }
    if (pubkey && cert) {
        fprintf(stderr, "%s: provision: one credential: --cert or --pubkey\n", prog);
        return EXIT_USAGE;
    }
    if (dir && server && pubkey) /* issue 14 (rpk) */
        return provision_keypair(dir, server, true, pubkey, key, server_pub);
    if (dir && server && (cert || key)) /* issue 14 (creds) */
        return provision_keypair(dir, server, false, cert, key, server_ca);
    if (!dir || !server || !identity || (!psk && !insecure)) {
        fprintf(stderr, "%s: provision needs DIR --server ADDR:PORT --identity ID --psk HEX\n", prog);
        return EXIT_USAGE;
    }
    if (sim_conf_load(dir, &c, prog) != 0)
        return EXIT_FILE;
    const char *colon = strrchr(server, ':');
    int64_t port = 0;
    if (!colon || !alc_parse_i64(colon + 1, 1, 65535, &port) || (size_t)(colon - server) >= sizeof c.server ||
        strlen(identity) >= sizeof c.identity) {
        fprintf(stderr, "%s: --server must be ADDR:PORT (numeric IPv4), --identity < 64 bytes\n", prog);
        return EXIT_USAGE;
    }
    memcpy(c.server, server, (size_t)(colon - server));
    c.server[colon - server] = '\0';
    c.port = (unsigned)port;
    snprintf(c.identity, sizeof c.identity, "%s", identity);
    c.insecure = insecure;
    c.psk_len = psk ? strlen(psk) / 2 : 0;
    if (psk && (strlen(psk) % 2 || c.psk_len == 0 || c.psk_len > sizeof c.psk ||
                sim_unhex(psk, c.psk, c.psk_len) != 0)) {
        fprintf(stderr, "%s: --psk must be 2..128 hex digits\n", prog);
        return EXIT_USAGE;
    }
    if (sim_conf_save(dir, &c) != 0) {
        fprintf(stderr, "%s: cannot write %s/device.conf\n", prog, dir);
        return EXIT_FILE;
    }
    printf("provisioned %s as '%s' for %s:%u\n", dir, c.identity, c.server, c.port);
    return EXIT_OK;
}

/* How the simulated firmware behaves after an install. */
struct behaviour {
    bool never_confirm;  /* runs, reaches the server, but never confirms: the device reverts */
    const char *revert_reason; /* issue 13: the reason it reports for a revert instead of the
                                * install engine's (tests of how clients show device text) */
    bool crash_at_boot;  /* crashes before it reaches the server when it is on trial */
    unsigned sleep_s;    /* sleeps between sessions (reported as next check-in) */
    unsigned max_sessions;
    bool until_idle;     /* stop once up to date and confirmed */
    unsigned retry_ms;   /* wait after a failed session */
    uint32_t session_bytes; /* the modem sleeps after this many bytes fetched; 0: no limit */
    uint16_t mtu;           /* the link's IP MTU (the transfer's chunk size follows); 0: 1500 */
    bool block2;            /* download by RFC 7959 Block2 instead of windows */
    bool no_slots;          /* an agent before encoding 3: no inventory flag AL_INV_SLOTS */
    bool lose_confirm_report; /* the report sent right after confirming never arrives, once */
    unsigned poll_ms;       /* issue 16 (speed): idle, up to date, it checks in this often */
    bool fresh_session;     /* issue 16 (speed): a new DTLS handshake after the install's reset
                               too (default: the session is kept in retained RAM) */
};

/*
 * The radio as the firmware sees it: the real transport, plus the misbehaviours a test asks
 * for (a per-wake data budget, one lost report).
 */
struct radio {
    const struct al_transport *real;
    struct al_coap_transport *coap;
    const struct behaviour *b;
    struct al_transport port;
    uint32_t fetched;        /* bytes fetched since the device woke */
    uint8_t last_boot_state; /* of the last inventory sent */
    bool report_lost;
};

static al_err radio_exchange(void *ctx, uint8_t method, const char *path, const uint8_t *req,
                             size_t req_len, uint8_t *resp, size_t resp_cap, size_t *resp_len,
                             uint8_t *code)
{
    struct radio *r = ctx;
    struct al_inventory inv;
    if (strcmp(path, "i") == 0 && al_inventory_decode(req, req_len, &inv) == AL_OK) {
        bool confirm_report = r->last_boot_state == AL_BOOT_TRIAL &&
                              inv.boot_state == AL_BOOT_CONFIRMED;
        r->last_boot_state = inv.boot_state;
        if (confirm_report && r->b->lose_confirm_report && !r->report_lost) {
            r->report_lost = true;
            printf("radio: the report after confirming is lost\n");
            return AL_ERR_TIMEOUT;
        }
    }
    return r->real->exchange(r->real->ctx, method, path, req, req_len, resp, resp_cap, resp_len,
                             code);
}

static al_err radio_connect(void *ctx)
{
    struct radio *r = ctx;
    return r->real->connect(r->real->ctx);
}

static al_err radio_fetch(void *ctx, const char *name, uint32_t offset, uint32_t size,
                          uint32_t until, uint8_t *buf,
                          size_t cap, size_t *got)
{
    struct radio *r = ctx;
    if (r->b->session_bytes && r->fetched >= r->b->session_bytes) {
        printf("radio: data budget of this wake used up (%u bytes)\n", (unsigned)r->fetched);
        return AL_ERR_TRANSPORT;
    }
    if (r->b->session_bytes) /* a modem with a budget asks for no more than it has left */
        al_coap_set_window_bytes(r->coap, r->b->session_bytes - r->fetched);
    al_err e = r->real->fetch(r->real->ctx, name, offset, size, until, buf, cap, got);
    if (e == AL_OK)
        r->fetched += (uint32_t)*got;
    return e;
}

static const char *reset_word(enum al_reset_reason r)
{
    return r == AL_RESET_SOFTWARE ? "software" : r == AL_RESET_WATCHDOG ? "watchdog"
           : r == AL_RESET_FAULT ? "crash" : "power";
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * The device's life: boot, report, download, install, reboot, confirm, sleep. The flash lives
 * in DIR (mapped files), so killing this process is a reset: the next run resumes.
 */
static int run_device(struct sim_device *d, const struct behaviour *b, const struct sim_link_config *lk,
                      bool use_link)
{
    struct al_coap_transport *coap = NULL;
    struct sim_link *link = NULL;
    struct al_agent agent;
    char err[256];
    enum al_reset_reason why = AL_RESET_POWER_ON;
    int rc = EXIT_OK;
    uint16_t port = (uint16_t)d->conf.port;
    uint8_t last_boot_state = AL_BOOT_CONFIRMED;
    bool report_lost = false;
    unsigned removed = 0; /* "removed" answers in a row (al_agent_removed_backoff_s) */
    if (use_link) {
        struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(port)};
        struct sim_link_config same = *lk;
        char port_file[600];
        snprintf(port_file, sizeof port_file, "%s/link-port", d->dir);
        if (same.same_port) { /* the port of the run before this one (a reset), if any */
            FILE *f = fopen(port_file, "r");
            unsigned p = 0;
            if (f && fscanf(f, "%5u", &p) == 1 && p < 65536)
                same.source_port = (uint16_t)p;
            if (f)
                fclose(f);
        }
        if (inet_pton(AF_INET, d->conf.server, &srv.sin_addr) != 1 ||
            sim_link_start(&link, &same, &srv, &port) != 0) {
            fprintf(stderr, "%s: cannot start the simulated link%s\n", prog,
                    same.same_port ? " (is its source port, in DIR/link-port, taken?)" : "");
            return EXIT_INTERNAL;
        }
        if (same.same_port && !same.source_port) {
            char text[16];
            snprintf(text, sizeof text, "%u\n", (unsigned)sim_link_source_port(link));
            if (alc_write_file_atomic(port_file, text, strlen(text)) != 0)
                fprintf(stderr, "%s: cannot write %s\n", prog, port_file);
        }
        if (same.same_port)
            printf("link: source port %u (kept across resets)\n",
                   (unsigned)sim_link_source_port(link));
    }
    struct al_coap_config cc = {use_link ? "127.0.0.1" : d->conf.server, port, d->conf.identity,
                                d->conf.psk, d->conf.psk_len, d->conf.insecure, 20000,
                                b->mtu, b->block2, 0, NULL, NULL, NULL, NULL, NULL};
    char cert_path[600], key_path[600], ca_path[600]; /* issue 14 (creds) */
    if (d->conf.x509) {
        snprintf(cert_path, sizeof cert_path, "%s/device.crt", d->dir);
        snprintf(key_path, sizeof key_path, "%s/device.key", d->dir);
        snprintf(ca_path, sizeof ca_path, "%s/server-ca.pem", d->dir);
        cc.cert_file = cert_path;
        cc.key_file = key_path;
        cc.ca_file = d->conf.server_ca ? ca_path : NULL;
    }
    char pub_path[600], spub_path[600]; /* issue 14 (rpk) */
    if (d->conf.rpk) {
        snprintf(pub_path, sizeof pub_path, "%s/device.pub", d->dir);
        snprintf(key_path, sizeof key_path, "%s/device.key", d->dir);
        snprintf(spub_path, sizeof spub_path, "%s/server.pub", d->dir);
        cc.pubkey_file = pub_path;
        cc.key_file = key_path;
        cc.server_pubkey_file = d->conf.server_pubkey ? spub_path : NULL;
    }
    for (unsigned session = 0; !b->max_sessions || session < b->max_sessions; session++) {
        struct al_boot_info info;
        struct al_session_result r;
        struct al_device_config cfg = d->dev.cfg; /* a reset: RAM state is rebuilt from flash */
        bool fresh = !coap;
        if (!coap && al_coap_open(&coap, &cc, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            rc = EXIT_INTERNAL;
            break;
        }
        if (!fresh && why == AL_RESET_SOFTWARE && !b->sleep_s && !b->fresh_session) {
            /* issue 16 (speed): the install's reset keeps the DTLS session's state in
             * retained RAM and the modem its socket (docs/simulated-device.md): the session
             * goes on, proven again by an answer of the server before the trial image
             * confirms. */
            al_coap_retain(coap);
        } else if (!fresh && (why != AL_RESET_POWER_ON || b->sleep_s)) {
            /* A reset or a deep sleep drops the modem: the next session shakes hands anew. */
            al_coap_close(coap);
            coap = NULL;
            if (al_coap_open(&coap, &cc, err, sizeof err) != 0) {
                fprintf(stderr, "%s: %s\n", prog, err);
                rc = EXIT_INTERNAL;
                break;
            }
        }
        al_err e = al_device_open(&d->dev, &cfg);
        if (e == AL_OK)
            e = al_boot(&d->dev, why, &info);
        if (e != AL_OK) {
            fprintf(stderr, "%s: boot: %s\n", prog, al_strerror(e));
            rc = EXIT_INTERNAL;
            break;
        }
        if (why != AL_RESET_POWER_ON || info.installed || info.reverted) {
            printf("boot (%s reset): ", reset_word(why));
            print_boot(&info);
        }
        why = AL_RESET_POWER_ON;
        if (b->revert_reason && al_boot_state(&d->dev) == AL_BOOT_REVERTED) /* issue 13 */
            snprintf(d->dev.state.last_reason, sizeof d->dev.state.last_reason, "%s",
                     b->revert_reason);
        if (b->crash_at_boot && al_boot_state(&d->dev) == AL_BOOT_TRIAL) {
            printf("firmware: crashed at boot\n");
            why = AL_RESET_FAULT;
            continue;
        }
        struct radio radio = {al_coap_port(coap), coap, b, {0}, 0, last_boot_state, report_lost};
        radio.port = (struct al_transport){&radio, radio_exchange, radio_fetch, radio_connect};
        if (al_boot_state(&d->dev) == AL_BOOT_TRIAL)
            radio.last_boot_state = AL_BOOT_TRIAL; /* what the server last heard is not "confirmed" */
        al_agent_init(&agent, &d->dev, &radio.port);
        agent.flags |= (uint8_t)((info.installed || info.reverted ? AL_INV_AFTER_INSTALL : 0) |
                                 (b->sleep_s ? AL_INV_SLEEPY : 0));
        if (b->no_slots)
            agent.flags &= (uint8_t)~AL_INV_SLOTS;
        if (!b->block2 && (!b->mtu || b->mtu == 1500)) /* issue 16: 1424-byte chunks fit */
            agent.flags |= AL_INV_WINDOW;
        agent.next_checkin_s = (uint16_t)(b->sleep_s > 65535 ? 65535 : b->sleep_s);
        agent.hold_confirm = b->never_confirm;
        e = al_agent_session(&agent, &r);
        last_boot_state = radio.last_boot_state;
        report_lost = radio.report_lost;
        if (e == AL_ERR_REMOVED) {
            /* Not a fault to retry at once: the server no longer wants this device. */
            uint32_t wait_s = al_agent_removed_backoff_s(++removed);
            printf("session: the server removed this device; backing off, next try in %u s\n",
                   (unsigned)wait_s);
            fflush(stdout);
            sleep_ms(wait_s * 1000u);
            continue;
        }
        removed = 0;
        if (e != AL_OK) {
            printf("session: %s; retrying\n", al_strerror(e));
            if (b->sleep_s)
                printf("sleep: %u s\n", b->sleep_s);
            fflush(stdout);
            sleep_ms(b->sleep_s ? b->sleep_s * 1000u : b->retry_ms);
            if (e == AL_ERR_POWER_LOSS)
                why = AL_RESET_POWER_ON;
            continue;
        }
        if (r.confirmed)
            printf("firmware: reached the server; confirmed the new image\n");
        if (r.failed_result)
            printf("session: the update failed on the device: %s\n", al_result_name(r.failed_result));
        if (r.reset_needed) {
            printf("session: downloaded %u bytes; install requested; resetting\n", r.bytes_fetched);
            why = AL_RESET_SOFTWARE;
            fflush(stdout);
            continue;
        }
        if (b->never_confirm && al_boot_state(&d->dev) == AL_BOOT_TRIAL) {
            printf("firmware: never confirms; the watchdog resets it\n");
            why = AL_RESET_WATCHDOG;
            continue;
        }
        if (r.up_to_date && b->until_idle) {
            printf("session: up to date\n");
            break;
        }
        if (b->sleep_s) {
            printf("sleep: %u s\n", b->sleep_s);
            fflush(stdout);
            /* Ending the session (DTLS close_notify) before the modem sleeps lets the
             * server free it at once instead of at its idle timeout. */
            al_coap_close(coap);
            coap = NULL;
            sleep_ms(b->sleep_s * 1000u);
        } else {
            /* issue 16 (speed): idle, it listens on its session for a plan the server
             * sends unasked, and checks in at once when one comes. */
            if (r.up_to_date)
                (void)al_coap_wait(coap, b->poll_ms);
            else
                sleep_ms(b->retry_ms);
        }
        fflush(stdout);
    }
    /* issue 14 (rpk): the session's close (a DTLS close_notify each way, which the server
     * counts) goes over the link before its figures are printed. */
    al_coap_close(coap);
    if (link) {
        sleep_ms(50);
        const struct sim_link_stats *st = sim_link_stats(link);
        printf("link: %llu bytes up, %llu bytes down, %llu datagrams dropped\n",
               (unsigned long long)st->up_bytes, (unsigned long long)st->down_bytes,
               (unsigned long long)st->dropped);
        static const char *const kinds[SIM_LINK_KINDS] = {"handshake", "alerts", "application"};
        printf("link by record:");
        for (int k = 0; k < SIM_LINK_KINDS; k++)
            printf("%s %s %llu up in %llu, %llu down in %llu", k ? ";" : "", kinds[k],
                   (unsigned long long)st->kind_bytes[0][k], (unsigned long long)st->kind_datagrams[0][k],
                   (unsigned long long)st->kind_bytes[1][k], (unsigned long long)st->kind_datagrams[1][k]);
        printf("\n");
    }
    sim_link_stop(link);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    struct sim_device d;
    struct behaviour b = {.retry_ms = 1000, .poll_ms = 500};
    struct sim_link_config lk = {0};
    const char *dir = NULL;
    bool use_link = false;
    int rc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--never-confirm") == 0) b.never_confirm = true;
        else if (strcmp(a, "--revert-reason") == 0 && v) b.revert_reason = argv[++i];
        else if (strcmp(a, "--crash-at-boot") == 0) b.crash_at_boot = true;
        else if (strcmp(a, "--until-idle") == 0) b.until_idle = true;
        else if (strcmp(a, "--sleep") == 0 && v) { b.sleep_s = (unsigned)strtoul(v, NULL, 10); i++; }
        else if (strcmp(a, "--sessions") == 0 && v) { b.max_sessions = (unsigned)strtoul(v, NULL, 10); i++; }
        else if (strcmp(a, "--lose-confirm-report") == 0) b.lose_confirm_report = true;
        else if (strcmp(a, "--session-bytes") == 0 && v) { b.session_bytes = (uint32_t)strtoul(v, NULL, 10); i++; }
        else if (strcmp(a, "--retry-ms") == 0 && v) { b.retry_ms = (unsigned)strtoul(v, NULL, 10); i++; }
        else if (strcmp(a, "--loss") == 0 && v) { lk.loss = strtod(v, NULL); use_link = true; i++; }
        else if (strcmp(a, "--duplicate") == 0 && v) { lk.duplicate = strtod(v, NULL); use_link = true; i++; }
        else if (strcmp(a, "--reorder") == 0 && v) { lk.reorder = strtod(v, NULL); use_link = true; i++; }
        else if (strcmp(a, "--latency") == 0 && v) { lk.latency_ms = (uint32_t)strtoul(v, NULL, 10); use_link = true; i++; }
        else if (strcmp(a, "--bandwidth") == 0 && v) { lk.bandwidth_bps = (uint32_t)strtoul(v, NULL, 10); use_link = true; i++; }
        else if (strcmp(a, "--buffer") == 0 && v) { lk.buffer_bytes = (uint32_t)strtoul(v, NULL, 10); use_link = true; i++; }
        else if (strcmp(a, "--link") == 0) use_link = true;
        else if (strcmp(a, "--same-port") == 0) { lk.same_port = true; use_link = true; }
        else if (strcmp(a, "--block2") == 0) b.block2 = true;
        else if (strcmp(a, "--no-slots") == 0) b.no_slots = true;
        else if (strcmp(a, "--fresh-session") == 0) b.fresh_session = true;
        else if (strcmp(a, "--poll-ms") == 0 && v) { b.poll_ms = (unsigned)strtoul(v, NULL, 10); i++; }
        else if (strcmp(a, "--mtu") == 0 && v) {
            unsigned long m = strtoul(v, NULL, 10);
            if (m < 576 || m > 1500) {
                fprintf(stderr, "%s: run: --mtu takes 576..1500 bytes, not '%s'\n", prog, v);
                return EXIT_USAGE;
            }
            b.mtu = (uint16_t)m;
            i++;
        }
        else if (strcmp(a, "--seed") == 0 && v) { lk.seed = (uint32_t)strtoul(v, NULL, 10); i++; }
        else if (a[0] != '-' && !dir) dir = a;
        else {
            fprintf(stderr, "%s: run: unexpected argument '%s'\n", prog, a);
            return EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "%s: run needs DIR\n", prog);
        return EXIT_USAGE;
    }
    if ((rc = device_open(&d, dir)) != EXIT_OK)
        return rc;
    if (!d.conf.identity[0] && !d.conf.x509 && !d.conf.rpk) {
        fprintf(stderr, "%s: %s is not provisioned (run 'provision' first)\n", prog, dir);
        device_close(&d);
        return EXIT_USAGE;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = run_device(&d, &b, &lk, use_link);
    device_close(&d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "create") == 0) return cmd_create(argc - 2, argv + 2);
    if (strcmp(cmd, "factory") == 0) return cmd_factory(argc - 2, argv + 2);
    if (strcmp(cmd, "install") == 0) return cmd_install(argc - 2, argv + 2);
    if (strcmp(cmd, "boot") == 0) return cmd_boot(argc - 2, argv + 2);
    if (strcmp(cmd, "show") == 0) return cmd_show(argc - 2, argv + 2);
    if (strcmp(cmd, "provision") == 0) return cmd_provision(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
    usage(stderr);
    return EXIT_USAGE;
}
