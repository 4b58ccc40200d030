/*
 * main.c - airliftd: settings, data directory, storage, the management API, signals.
 *
 * Startup: parse settings (exit 2), take the data directory and open the database (exit 3),
 * create the admin token on first start, bind the device endpoint and the HTTP API (exit 4),
 * write the port file. The device endpoint runs on its own thread (libcoap is single-
 * threaded per context); the HTTP API on libmicrohttpd's workers; both reach the store and
 * the update service, which are thread-safe. On SIGTERM/SIGINT: stop the HTTP API (finish
 * requests), stop the device thread, close the database, exit 0. Signals are blocked in
 * every thread and taken synchronously here with sigwait().
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "coap_endpoint.h"
#include "config.h"
#include "events.h"
#include "h_static.h"
#include "http_api.h"
#include "log.h"
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

static int count_tokens(void *ctx, const struct ald_token_rec *t)
{
    (*(int *)ctx)++;
    return 1; /* one is enough to know the store is not new */
}

/*
 * On first start (no token at all), create the admin token: written to token_file (0600)
 * when set, then stored, then printed once on stdout. Returns 0, or -1 with err set.
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
    printf("airliftd: first start: admin token (shown once, keep it safe): %s\n", token);
    fflush(stdout);
    ald_log(ALD_LOG_INFO, "admin token created", "file", token_file[0] ? token_file : NULL,
            NULL);
    rc = 0;
out:
    OPENSSL_cleanse(token, sizeof token);
    return rc;
}

/* The device endpoint's thread: serve until told to stop. */
struct device_thread {
    struct ald_coap *coap;
    pthread_t thread;
    volatile int stop;
    bool running;
};

static void *serve_devices(void *arg)
{
    struct device_thread *d = arg;
    ald_event_actor_device(); /* what happens here, the devices report (events.h) */
    while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE))
        if (ald_coap_serve(d->coap, 200) != 0)
            ald_log(ALD_LOG_WARN, "device endpoint I/O error", NULL);
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

    if (ald_config_load(&cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "airliftd: %s\nTry 'airliftd --help'.\n", err);
        exit_code = ALD_EXIT_USAGE;
        goto out;
    }
    if (cfg.help || cfg.version) {
        fputs(cfg.help ? ald_usage_text : "airliftd " AIRLIFTD_VERSION "\n", stdout);
        exit_code = ALD_EXIT_OK;
        goto out;
    }
    ald_log_setup(cfg.log_level, cfg.log_json);
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
    if (bootstrap_admin(store, cfg.admin_token_file, err, sizeof err) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot create the first admin token", "store", store_shown,
                "error", err, NULL);
        exit_code = ALD_EXIT_DATA;
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
                       cfg.coap_idle_s, &device_ops, err, sizeof err) != 0) {
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
                       cfg.data_dir, err, sizeof err) != 0) {
        ald_log(ALD_LOG_ERROR, "cannot start the HTTP API", "listen", cfg.http.text, "error",
                err, NULL);
        exit_code = ALD_EXIT_BIND;
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

    for (;;) {
        if (sigwait(&signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            ald_log(ALD_LOG_INFO, "SIGHUP ignored (no reloadable settings yet)", NULL);
            continue;
        }
        break;
    }
    ald_log(ALD_LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
            NULL);
    exit_code = ALD_EXIT_OK;
out:
    ald_http_stop(http);
    ald_rollouts_stop(rollouts);
    if (devices.running) {
        __atomic_store_n(&devices.stop, 1, __ATOMIC_RELEASE);
        pthread_join(devices.thread, NULL);
    }
    ald_coap_stop(devices.coap);
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
