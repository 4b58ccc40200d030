/*
 * main.c - airliftd: settings, data directory, storage, the management API, signals.
 *
 * Startup: parse settings (exit 2), take the data directory and open the database (exit 3),
 * bind the device endpoint and the HTTP API (exit 4: an address in use by anything), then
 * create the admin token on first start, write the port file. The device endpoint runs on its own thread (libcoap is single-
 * threaded per context); the HTTP API on libmicrohttpd's workers; both reach the store and
 * the update service, which are thread-safe. On SIGTERM/SIGINT: stop the HTTP API (finish
 * requests), stop the device thread, close the database, exit 0. Signals are blocked in
 * every thread and taken synchronously here with sigwait().
 *
 * As a service (packaging/airliftd.service): READY=1 to the service manager once every
 * listener is up, STOPPING=1 at shutdown (notify.h); SIGHUP reopens --log-file and rereads
 * log-level and log-format; --check-config validates and starts nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "coap_endpoint.h"
#include "config.h"
#include "devcreds.h"
#include "events.h"
#include "h_static.h"
#include "http_api.h"
#include "log.h"
#include "notify.h"
#include "metrics.h"
#include "rollouts.h"
#include "store.h"
#include "updates.h"
#include "workers.h"

#ifndef AIRLIFTD_VERSION
#define AIRLIFTD_VERSION "0.0.0"
#endif

/* mkdir that accepts an existing directory. Returns 0, or -1 with err set. */
static int ensure_dir(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", path);
        return -1;
    }
    return 0;
}

/*
 * Create the data directory layout and lock it (airliftd.lock, a POSIX record lock held
 * for the life of the process) so two daemons never share one database. Returns the lock
 * file descriptor, or -1 with err set.
 */
static int take_data_dir(const char *dir, char *err, size_t errlen)
{
    char path[ALD_PATH_MAX + 32], pid[24];
    struct flock fl;
    int fd = -1, rc = -1;

    if (ensure_dir(dir, err, errlen) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/images", dir);
    if (ensure_dir(path, err, errlen) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/airliftd.lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        struct flock who = fl;
        if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK)
            snprintf(err, errlen, "data directory %s is in use by another airliftd (pid %ld)",
                     dir, (long)who.l_pid);
        else
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        goto out;
    }
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc != 0 && fd >= 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* issue 14 (creds): what certificate devices need, read at start. */
struct device_pki {
    struct ald_device_cas *cas;
    uint8_t *cert, *key;
    struct ald_coap_pki coap;
};

/* Read --device-ca, --coap-cert and --coap-key into p (nothing if none is set). Returns 0,
 * or -1 with err naming the file at fault. */
static int device_pki_load(const struct ald_config *cfg, struct device_pki *p, char *err,
                           size_t errlen)
{
    const char *files[ALD_CONFIG_DEVICE_CA_MAX];
    memset(p, 0, sizeof *p);
    if (!cfg->ndevice_ca)
        return 0;
    for (size_t i = 0; i < cfg->ndevice_ca; i++)
        files[i] = cfg->device_ca[i];
    if (!(p->cas = ald_device_cas_load(files, cfg->ndevice_ca, err, errlen)))
        return -1;
    p->cert = ald_read_file(cfg->coap_cert, 1u << 20, &p->coap.cert_len);
    p->key = ald_read_file(cfg->coap_key, 1u << 20, &p->coap.key_len);
    if (!p->cert || !p->key) {
        snprintf(err, errlen, "%s %s: cannot read it", p->cert ? "--coap-key" : "--coap-cert",
                 p->cert ? cfg->coap_key : cfg->coap_cert);
        return -1;
    }
    p->coap.cert = (const char *)p->cert;
    p->coap.key = (const char *)p->key;
    if (ald_endpoint_pki_check(p->coap.cert, p->coap.cert_len, p->coap.key, p->coap.key_len,
                               cfg->coap_cert, cfg->coap_key, err, errlen) != 0)
        return -1;
    p->coap.cas = ald_device_cas_pem(p->cas, &p->coap.cas_len);
    return 0;
}

static void device_pki_free(struct device_pki *p)
{
    ald_device_cas_free(p->cas);
    free(p->cert);
    if (p->key)
        OPENSSL_cleanse(p->key, p->coap.key_len);
    free(p->key);
}

static int count_tokens(void *ctx, const struct ald_token_rec *t)
{
    (*(int *)ctx)++;
    return 1; /* one is enough to know the store is not new */
}

/*
 * On first start (no token at all), create the admin token: written to token_file (0600)
 * when set, then stored; printed once on stdout only when there is no token_file (under a
 * service manager stdout is the journal: the token must not end up there). Returns 0, or -1
 * with err set.
 */
static int bootstrap_admin(struct ald_store *st, const char *token_file, char *err,
                           size_t errlen)
{
    struct ald_token_rec rec;
    char token[ALD_TOKEN_LEN + 2];
    int count = 0, rc = -1;

    if (st->ops->token_list(st, count_tokens, &count) != ALD_STORE_OK) {
        snprintf(err, errlen, "cannot read tokens from the database");
        goto out;
    }
    if (count > 0) {
        rc = 0;
        goto out;
    }
    memset(&rec, 0, sizeof rec);
    if (!ald_token_generate(token, rec.sha256)) {
        snprintf(err, errlen, "no randomness for the admin token");
        goto out;
    }
    memcpy(rec.name, "admin", 6);
    rec.scope = ALD_SCOPE_ADMIN;
    if (token_file[0]) {
        token[ALD_TOKEN_LEN] = '\n';
        if (alc_write_file_atomic_mode(token_file, token, ALD_TOKEN_LEN + 1, 0600) != 0) {
            snprintf(err, errlen, "cannot write admin token to %s: %s", token_file,
                     strerror(errno));
            goto out;
        }
    }
    token[ALD_TOKEN_LEN] = '\0';
    if (st->ops->token_create(st, &rec) != ALD_STORE_OK) {
        snprintf(err, errlen, "cannot store the admin token");
        goto out;
    }
    ald_event_emit(st, "token.created", NULL, 0, "{\"name\":\"admin\",\"scope\":\"admin\"}");
    if (token_file[0])
        printf("airliftd: first start: admin token written to %s\n", token_file);
    else
        printf("airliftd: first start: admin token (shown once, keep it safe): %s\n", token);
    fflush(stdout);
    ald_log(ALD_LOG_INFO, "admin token created", "file", token_file[0] ? token_file : NULL,
            NULL);
    rc = 0;
out:
    OPENSSL_cleanse(token, sizeof token);
    return rc;
}

/*
 * Point stderr (where the logs go) at path, opened for appending (0640): at start and on
 * SIGHUP, so that a rotated log file is let go. "" leaves stderr as it is. Returns 0, or -1
 * with err set (stderr unchanged).
 */
static int open_log_file(const char *path, char *err, size_t errlen)
{
    int fd;
    if (!path[0])
        return 0;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the log file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0) {
        snprintf(err, errlen, "cannot log to %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (fd != STDERR_FILENO)
        close(fd);
    return 0;
}

/*
 * SIGHUP: reread the settings (the same flags and --config file), reopen the log file, apply
 * log-level and log-format; a bad file keeps every current setting. Any other setting that
 * changed is logged as needing a restart. cfg becomes the settings in effect.
 */
static void reload(struct ald_config *cfg, int argc, char **argv)
{
    static const char *const level_names[] = {"debug", "info", "warn", "error"};
    struct ald_config next;
    char err[4096], later[256];

    ald_notify("RELOADING=1");
    if (ald_config_load(&next, argc, argv, err, sizeof err) != 0) {
        ald_log(ALD_LOG_ERROR, "SIGHUP: settings not reloaded, keeping the current ones",
                "error", err, NULL);
    } else if (open_log_file(next.log_file, err, sizeof err) != 0) {
        ald_log(ALD_LOG_ERROR, "SIGHUP: settings not reloaded, keeping the current ones",
                "error", err, NULL);
    } else {
        if (ald_config_restart_needed(cfg, &next, later, sizeof later) > 0)
            ald_log(ALD_LOG_WARN, "SIGHUP: changed settings take effect at the next restart",
                    "settings", later, NULL);
        memcpy(cfg->log_file, next.log_file, sizeof cfg->log_file);
        ald_log_setup(cfg->log_level, cfg->log_json); /* stderr may be another file now */
        /* Said at the level in effect until now, so that a move to "warn" is still seen. */
        ald_log(ALD_LOG_INFO, "SIGHUP: settings reloaded", "log_level",
                level_names[next.log_level], "log_format", next.log_json ? "json" : "text",
                "log_file", cfg->log_file[0] ? cfg->log_file : NULL, NULL);
        cfg->log_level = next.log_level;
        cfg->log_json = next.log_json;
        ald_log_setup(cfg->log_level, cfg->log_json);
    }
    ald_notify("READY=1");
}

/* The device endpoint's thread: serve until told to stop. */
struct device_thread {
    struct ald_coap *coap;
    pthread_t thread;
    volatile int stop;
    bool running;
};

/* ---- net: the DTLS guard's counters, logged at most once per GUARD_LOG_S ---- */
#define GUARD_LOG_S 10

static void log_guard(struct ald_coap *coap, struct ald_guard_stats *last, time_t *at)
{
    struct ald_guard_stats s;
    time_t now = time(NULL);
    if (now - *at < GUARD_LOG_S || !ald_coap_guard_stats(coap, &s))
        return;
    uint64_t unanswered = s.cookies_sent - last->cookies_sent, dropped = s.throttled - last->throttled;
    uint64_t bad = s.malformed - last->malformed, resets = s.resets - last->resets;
    char span[24];
    snprintf(span, sizeof span, "%lld", (long long)(now - *at));
    *at = now;
    if (resets) {
        char n[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)resets);
        ald_log(ALD_LOG_INFO, "devices shook hands anew from the address of a session: "
                "old sessions dropped", "count", n, NULL);
    }
    if (dropped || bad || unanswered > 100) {
        char a[24], b[24], m[24]; /* counts over the last in_s seconds */
        snprintf(a, sizeof a, "%llu", (unsigned long long)unanswered);
        snprintf(b, sizeof b, "%llu", (unsigned long long)dropped);
        snprintf(m, sizeof m, "%llu", (unsigned long long)bad);
        ald_log(ALD_LOG_WARN, "DTLS ClientHellos refused before any session state "
                "(a flood?)", "cookies_sent", a, "rate_limited", b, "malformed", m,
                "in_s", span, NULL);
    }
    *last = s;
}
/* ---- end net ---- */

static void *serve_devices(void *arg)
{
    struct device_thread *d = arg;
    struct ald_guard_stats last = {0};
    time_t logged = time(NULL);
    ald_event_actor_device(); /* what happens here, the devices report (events.h) */
    while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
        if (ald_coap_serve(d->coap, 200) != 0)
            ald_log(ALD_LOG_WARN, "device endpoint I/O error", NULL);
        log_guard(d->coap, &last, &logged);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct ald_config cfg;
    struct ald_store *store = NULL;
    struct ald_http *http = NULL;
    struct ald_rollouts *rollouts = NULL;
    struct ald_updates *updates = NULL;
    struct device_thread devices = {0};
    struct ald_device_ops device_ops;
    char err[4096], port_text[32], http_addr[ALD_ADDR_MAX + 16], coap_addr[ALD_ADDR_MAX + 16];
    char store_url[ALD_STORE_URL_MAX + 16], store_shown[ALD_STORE_URL_MAX + 16];
    sigset_t signals;
    int exit_code = ALD_EXIT_INTERNAL, lock_fd = -1, sig = 0;
    bool port_file_written = false;
    struct ald_http_tls tls = {0};
    struct device_pki pki = {0}; /* issue 14 (creds) */

    if (ald_config_load(&cfg, argc, argv, err, sizeof err) != 0) {
        /* --check-config answers the error alone (its one line is the answer). */
        fprintf(stderr, "airliftd: %s\n%s", err,
                cfg.check_config ? "" : "Try 'airliftd --help'.\n");
        exit_code = ALD_EXIT_USAGE;
        goto out;
    }
    if (cfg.help || cfg.version) {
        fputs(cfg.help ? ald_usage_text : "airliftd " AIRLIFTD_VERSION "\n", stdout);
        exit_code = ALD_EXIT_OK;
        goto out;
    }
    if (cfg.check_config) {
        if (ald_config_check(&cfg, err, sizeof err) != 0) {
            fprintf(stderr, "airliftd: %s\n", err);
            exit_code = ALD_EXIT_USAGE;
        } else if (cfg.tls_cert[0] && ald_http_tls_load(&tls, cfg.tls_cert, cfg.tls_key, err,
                                                        sizeof err) != 0) {
            fprintf(stderr, "airliftd: %s\n", err);
            exit_code = ALD_EXIT_TLS;
        } else {
            printf("configuration OK\n");
            exit_code = ALD_EXIT_OK;
        }
        goto out;
    }
    if (open_log_file(cfg.log_file, err, sizeof err) != 0) {
        fprintf(stderr, "airliftd: %s\n", err);
        exit_code = ALD_EXIT_USAGE;
        goto out;
    }
    ald_log_setup(cfg.log_level, cfg.log_json);
    /* issue 14 (tokens): a bad certificate or key ends the start before anything is written. */
    if (cfg.tls_cert[0] && ald_http_tls_load(&tls, cfg.tls_cert, cfg.tls_key, err,
                                             sizeof err) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot serve the API over TLS", "error", err, NULL);
        exit_code = ALD_EXIT_TLS;
        goto out;
    }
    /* issue 14 (creds): certificate devices' CAs and the endpoint's certificate, also
     * before anything is written. */
    if (device_pki_load(&cfg, &pki, err, sizeof err) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot set up certificate devices", "error", err, NULL);
        exit_code = ALD_EXIT_TLS;
        goto out;
    }
    ald_metrics_start(ald_now_ms()); /* issue 15 (ops) */
    if (cfg.web_root[0]) { /* issue 13 (console): --web-root must hold the console */
        char index[ALD_PATH_MAX + 16];
        struct stat st;
        snprintf(index, sizeof index, "%s/index.html", cfg.web_root);
        if (stat(index, &st) != 0 || !S_ISREG(st.st_mode)) {
            ald_log(ALD_LOG_ERROR, "--web-root has no index.html", "web_root", cfg.web_root,
                    NULL);
            exit_code = ALD_EXIT_USAGE;
            goto out;
        }
    }

    /* Every thread started from here on inherits the mask; only sigwait() takes them. */
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    lock_fd = take_data_dir(cfg.data_dir, err, sizeof err);
    if (lock_fd < 0) {
        ald_log(ALD_LOG_ERROR, "cannot use the data directory", "data_dir", cfg.data_dir,
                "error", err, NULL);
        exit_code = ALD_EXIT_DATA;
        goto out;
    }
    if (ald_config_store_url(&cfg, store_url, sizeof store_url) != 0) {
        ald_log(ALD_LOG_ERROR, "the data directory's path is too long for a store URL",
                "data_dir", cfg.data_dir, NULL);
        exit_code = ALD_EXIT_USAGE;
        goto out;
    }
    ald_url_redact(store_url, store_shown, sizeof store_shown);
    switch (ald_store_open(store_url, &store, err, sizeof err)) {
    case ALD_STORE_OPEN_OK:
        break;
    case ALD_STORE_OPEN_BAD_URL:
        exit_code = ALD_EXIT_USAGE;
        break;
    case ALD_STORE_OPEN_UNREACHABLE:
        exit_code = ALD_EXIT_STORE_DOWN;
        break;
    case ALD_STORE_OPEN_NEWER_SCHEMA:
        exit_code = ALD_EXIT_SCHEMA;
        break;
    default:
        exit_code = ALD_EXIT_DATA;
        break;
    }
    if (!store) {
        ald_log(ALD_LOG_ERROR, "cannot open the store", "store", store_shown, "error", err, NULL);
        goto out;
    }
    if (ald_updates_open(&updates, store, cfg.data_dir) != 0) {
        ald_log(ALD_LOG_ERROR, "out of memory", NULL);
        goto out;
    }
    if (ald_updates_start_workers(updates, cfg.workers, ALD_WORK_QUEUE_DEFAULT) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot start the encoding workers", NULL);
        goto out;
    }
    if (ald_rollouts_start(&rollouts, store, updates, 0) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot start the rollout thread", NULL);
        goto out;
    }
    /* Every service is built: now the listeners. */
    device_ops = ald_updates_device_ops(updates);
    if (cfg.coap.ipv6 ||
        ald_coap_start(&devices.coap, cfg.coap.host, cfg.coap.port, cfg.coap_insecure,
                       cfg.coap_idle_s, &device_ops, pki.cas ? &pki.coap : NULL, err,
                       sizeof err) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot start the device endpoint", "listen", cfg.coap.text,
                "error", cfg.coap.ipv6 ? "the device endpoint takes IPv4 addresses only" : err,
                NULL);
        exit_code = ALD_EXIT_BIND;
        goto out;
    }
    if (cfg.coap_insecure)
        ald_log(ALD_LOG_WARN, "device endpoint WITHOUT DTLS (--coap-security none): development "
                "only, anyone on the network can impersonate a device", NULL);
    if (pthread_create(&devices.thread, NULL, serve_devices, &devices) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot start the device thread", NULL);
        goto out;
    }
    devices.running = true;
    ald_http_web_root(cfg.web_root);
    if (ald_http_start(&http, &cfg.http, cfg.http_threads, store, updates, rollouts,
                       cfg.data_dir, tls.cert_pem ? &tls : NULL, err, sizeof err) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot start the HTTP API", "listen", cfg.http.text, "error",
                err, NULL);
        exit_code = ALD_EXIT_BIND;
        goto out;
    }
    ald_http_set_metrics_public(http, cfg.metrics_public); /* issue 15 (ops) */
    ald_http_set_device_cas(http, pki.cas);              /* issue 14 (creds) */
    ald_http_set_ddi(http, cfg.ddi_tenant, cfg.ddi_gateway_token, cfg.ddi_poll_s,
                     cfg.tls_cert[0] != '\0'); /* issue 14 (ddi) */
    /* net: only once both listeners are bound, so a start that fails on a port in use
     * creates no admin token and prints none. */
    if (bootstrap_admin(store, cfg.admin_token_file, err, sizeof err) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot create the first admin token", "store", store_shown,
                "error", err, NULL);
        exit_code = ALD_EXIT_DATA;
        goto out;
    }
    snprintf(port_text, sizeof port_text, "%u\n%u\n", (unsigned)ald_http_port(http),
             (unsigned)ald_coap_bound_port(devices.coap));
    if (cfg.port_file[0]) {
        if (alc_write_file_atomic(cfg.port_file, port_text, strlen(port_text)) != 0) {
            ald_log(ALD_LOG_ERROR, "cannot write the port file", "path", cfg.port_file, "error",
                    strerror(errno), NULL);
            exit_code = ALD_EXIT_DATA;
            goto out;
        }
        port_file_written = true;
    }
    port_text[strcspn(port_text, "\n")] = '\0';
    snprintf(http_addr, sizeof http_addr, cfg.http.ipv6 ? "[%s]:%s" : "%s:%s", cfg.http.host,
             port_text);
    snprintf(coap_addr, sizeof coap_addr, "%s:%u", cfg.coap.host,
             (unsigned)ald_coap_bound_port(devices.coap));
    ald_log(ALD_LOG_INFO, "airliftd started", "version", AIRLIFTD_VERSION, "http", http_addr,
            "coap", coap_addr, "security", cfg.coap_insecure ? "none" : "dtls-psk", "data_dir",
            cfg.data_dir, "store", store->ops->backend, NULL);
    if (ald_notify("READY=1") < 0)
        ald_log(ALD_LOG_WARN, "cannot notify the service manager", "error", strerror(errno),
                NULL);

    if (tls.cert_pem)
        ald_log(ALD_LOG_INFO, "management API over TLS", "cert", cfg.tls_cert, NULL);
    ald_metrics_set_ready(true); /* issue 15 (ops): GET /v1/ready answers 200 from here */

    for (;;) {
        if (sigwait(&signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload(&cfg, argc, argv);
            continue;
        }
        break;
    }
    ald_log(ALD_LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
            NULL);
    exit_code = ALD_EXIT_OK;
    ald_notify("STOPPING=1");
out:
    ald_metrics_set_ready(false);
    ald_http_stop(http);
    ald_http_tls_free(&tls);
    ald_rollouts_stop(rollouts);
    if (devices.running) {
        __atomic_store_n(&devices.stop, 1, __ATOMIC_RELEASE);
        pthread_join(devices.thread, NULL);
    }
    ald_coap_stop(devices.coap);
    device_pki_free(&pki); /* issue 14 (creds) */
    ald_updates_close(updates);
    if (store)
        store->ops->close(store);
    if (port_file_written)
        unlink(cfg.port_file);
    if (lock_fd >= 0)
        close(lock_fd);
    if (exit_code == ALD_EXIT_OK && sig)
        ald_log(ALD_LOG_INFO, "airliftd stopped", NULL);
    return exit_code;
}
