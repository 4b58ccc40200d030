/*
 * config.h - airliftd's settings: defaults, then the config file (--config), then flags.
 * Flags always win over the file. The file is `key = value` lines with the long flag names
 * (no dashes in front), '#' comments and blank lines (docs/airliftd.md).
 */
#ifndef AIRLIFTD_CONFIG_H
#define AIRLIFTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "util.h"

#define ALD_ADDR_MAX 64
#define ALD_STORE_URL_MAX 1024
#define ALD_CONFIG_DEVICE_CA_MAX 8 /* issue 14 (creds): --device-ca files */

/* A parsed "HOST:PORT" / "[V6]:PORT"; host is a numeric address. */
struct ald_listen {
    char text[ALD_ADDR_MAX + 8]; /* as given */
    char host[ALD_ADDR_MAX];
    bool ipv6;
    uint16_t port;
};

struct ald_config {
    char data_dir[ALD_PATH_MAX];
    char store_url[ALD_STORE_URL_MAX]; /* --store; "" means sqlite:DATA_DIR/airlift.db */
    struct ald_listen http;
    struct ald_listen coap;
    bool coap_insecure;          /* --coap-security none: plain CoAP, development only */
    unsigned coap_idle_s;        /* a silent device's session ends after this */
    char config_file[ALD_PATH_MAX];
    char admin_token_file[ALD_PATH_MAX];
    char port_file[ALD_PATH_MAX];
    enum ald_log_level log_level;
    bool log_json;
    unsigned http_threads;
    unsigned workers;            /* --workers: threads that make transfers (core/workers.h) */
    char web_root[ALD_PATH_MAX]; /* issue 13: --web-root, the console's files ("": built in) */
    bool help;
    bool version;
    /* issue 14 (tokens): the API over TLS; both set or both "" (plain HTTP) */
    char tls_cert[ALD_PATH_MAX];
    char tls_key[ALD_PATH_MAX];
    /* Service settings (packaging/, docs/deployment.md). */
    char log_file[ALD_PATH_MAX]; /* --log-file: append logs there instead of stderr */
    bool check_config;           /* --check-config: validate the settings, start nothing */
    bool metrics_public;         /* issue 15 (ops): --metrics-public, GET /metrics without a token */
    /* issue 14 (creds): certificate devices. --device-ca FILE (repeatable; the flags replace
     * the file's list), the CAs device certificates must come from; --coap-cert/--coap-key,
     * the device endpoint's own certificate (chain) and key, needed with --device-ca. */
    char device_ca[ALD_CONFIG_DEVICE_CA_MAX][ALD_PATH_MAX];
    size_t ndevice_ca;
    bool device_ca_args;         /* a --device-ca flag was seen: the file's list is gone */
    char coap_cert[ALD_PATH_MAX];
    char coap_key[ALD_PATH_MAX];
    /* issue 14 (ddi): hawkBit DDI for linux devices (docs/ddi.md) */
    char ddi_tenant[65];         /* --ddi-tenant: the one tenant served ("default") */
    char ddi_gateway_token[129]; /* --ddi-gateway-token: "" none (target tokens only) */
    unsigned ddi_poll_s;         /* --ddi-poll-interval: config.polling.sleep, seconds */
};

/* Exit codes of airliftd (docs/airliftd.md). */
enum ald_exit {
    ALD_EXIT_OK = 0,
    ALD_EXIT_INTERNAL = 1, /* an unexpected failure (out of memory, a bug) */
    ALD_EXIT_USAGE = 2,    /* bad flag, value or config file */
    ALD_EXIT_DATA = 3,     /* data directory or database unusable */
    ALD_EXIT_BIND = 4,     /* cannot listen on the requested address */
    ALD_EXIT_STORE_DOWN = 5, /* the database (--store) cannot be reached */
    ALD_EXIT_SCHEMA = 6,   /* the database was written by a newer airliftd */
    ALD_EXIT_TLS = 7,      /* issue 14 (tokens): --tls-cert/--tls-key unusable, or no TLS in
                            * libmicrohttpd; issue 14 (creds): --device-ca, --coap-cert or
                            * --coap-key unusable (unreadable, no certificate or key, a key
                            * that is not the certificate's) */
};

/*
 * Fill cfg from defaults, the config file named by --config (if any) and argv. Returns 0,
 * or -1 with a message in err (exit with ALD_EXIT_USAGE). --help / --version only set flags.
 */
int ald_config_load(struct ald_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Parse "HOST:PORT" or "[HOST]:PORT" with a numeric IPv4/IPv6 host; false if malformed. */
bool ald_listen_parse(const char *s, struct ald_listen *out);

/*
 * The store URL in effect: --store, or "sqlite:DATA_DIR/airlift.db" when it is not set.
 * Returns 0, or -1 if it does not fit in out[cap].
 */
int ald_config_store_url(const struct ald_config *cfg, char *out, size_t cap);

/*
 * url fit for a log line or an error: in a postgresql:// or postgres:// URL, the password of
 * "user:password@" and the value of a password= query parameter become "***"; anything else
 * is copied as it is. out is always NUL-terminated (cut to cap - 1 bytes).
 */
void ald_url_redact(const char *url, char *out, size_t cap);

/*
 * What --check-config checks beyond the parse, which ald_config_load has done: the store
 * URL's syntax (a PostgreSQL URL as libpq parses it), the addresses the daemon can use
 * (the device endpoint is IPv4 only), and that every file it writes can be written: the
 * data directory (or its parent, when missing), and the parent directories of
 * --admin-token-file, --port-file and --log-file. Touches nothing. Returns 0, or -1 with
 * a message naming the setting in err (exit with ALD_EXIT_USAGE).
 */
int ald_config_check(const struct ald_config *cfg, char *err, size_t errlen);

/*
 * The settings SIGHUP cannot change (all but log-level, log-format and log-file), as the
 * names of those whose value differs between a and b, comma-separated, in out[cap]
 * ("" when none differ). Returns the number of such settings.
 */
int ald_config_restart_needed(const struct ald_config *a, const struct ald_config *b, char *out,
                              size_t cap);

/* The --help text. */
extern const char ald_usage_text[];

#endif
