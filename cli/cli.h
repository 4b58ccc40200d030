/*
 * cli.h - shared pieces of the airlift command-line tool: exit codes, the command table,
 * option parsing, files, output and JSON helpers. docs/cli.md documents what users see.
 *
 * Adding a command group (devices, flash, releases, ...): write cli/cmd_NAME.c exporting a
 * `const struct cli_command`, declare it below and list it in main.c's table. Leaf commands
 * parse their own options with struct cli_parser; --help and --json work everywhere.
 */
#ifndef AIRLIFT_CLI_H
#define AIRLIFT_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "airlift/error.h"
#include "airlift/image.h"
#include "airlift/version.h"
#include "airlift_common/atomic_file.h"
#include "airlift_common/buf.h"
#include "airlift_common/hex.h"
#include "airlift_common/name.h"
#include "airlift_common/parse.h"
#include "airlift_common/platform.h"
#include "airlift_common/suggest.h"
#include "airlift_common/timeparse.h"

/* Exit codes: stable, documented in docs/cli.md. 6..15 belong to the server commands. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_INTERNAL = 1,       /* unexpected internal error (a bug, or out of memory) */
    CLI_EXIT_USAGE = 2,          /* bad command line, or metadata missing for a flag to give */
    CLI_EXIT_IO = 3,             /* a file cannot be read or written */
    CLI_EXIT_INVALID = 4,        /* an image is invalid or fails verification */
    CLI_EXIT_KEY = 5,            /* a key cannot be loaded, generated or used */
    CLI_EXIT_SERVER = 6,         /* reserved: server unreachable or API error */
    CLI_EXIT_UPDATE_FAILED = 7,  /* reserved: the device reported the update failed */
    CLI_EXIT_REVERTED = 8,       /* reserved: the device reverted the new firmware */
    CLI_EXIT_TIMEOUT = 9,        /* reserved: no final answer in time */
    CLI_EXIT_OFFLINE = 10,       /* reserved: the device is offline */
    CLI_EXIT_CANCELLED = 11,     /* reserved: cancelled at the confirmation prompt */
    CLI_EXIT_ROLLOUT_PAUSED = 12,    /* a watched rollout paused (by itself or a user) */
    CLI_EXIT_ROLLOUT_CANCELLED = 13, /* a watched rollout was cancelled */
    CLI_EXIT_BUSY = 14,          /* the device has an active update (flash --replace, devices
                                  * remove --force) */
    CLI_EXIT_IMAGE_IN_USE = 15,  /* image remove refused: a release or active update needs it */
    /* issue 14 (tokens) */
    CLI_EXIT_AUTH = 16,          /* the server refused the API token (401: unknown, malformed,
                                  * revoked or expired) */
    CLI_EXIT_TLS = 17,           /* the server's TLS certificate does not verify */
    CLI_EXIT_CREDENTIAL = 18,    /* issue 14 (creds): a device credential (--cert, --pubkey)
                                  * is refused: not PEM, or by the server (its message) */
    CLI_EXIT_RESERVED_LAST = 18,
};

#define CLI_PATH_MAX 64 /* "image create": the words of the command being run */

/* State of one run of the tool, passed to every command. */
struct cli {
    bool json;                /* --json: machine-readable output on stdout */
    char path[CLI_PATH_MAX];  /* command words, for messages ("image create") */
    bool json_done;           /* a JSON document went to stdout: errors add no other */
    bool ndjson;              /* --json prints NDJSON: each document compact on one line,
                                 an error is one more line (streams of records) */
    const char *server_flag;  /* --server URL, or NULL */
    const char *token_flag;   /* --token TOKEN, or NULL */
    const char *token_file;   /* --token-file PATH, or NULL */
    const char *cacert_flag;  /* --cacert FILE, or NULL (issue 14, tokens) */
};

struct cli_command;
typedef int (*cli_run_fn)(struct cli *cli, const struct cli_command *self, int argc,
                          char **argv);

/*
 * A command: a leaf (run != NULL) or a group of subcommands (subcommands != NULL,
 * NULL-terminated). run gets the arguments after the command's own name.
 */
struct cli_command {
    const char *name;
    const char *alias;   /* another accepted name ("device" for "devices"), or NULL */
    const char *summary; /* one line, for the listing of its group */
    const char *help;    /* full text printed by --help (leaf: usage and options) */
    cli_run_fn run;
    const struct cli_command *const *subcommands;
};

extern const struct cli_command cli_keys_group;
extern const struct cli_command cli_image_group;
extern const struct cli_command cli_devices_group;
extern const struct cli_command cli_flash_command;
extern const struct cli_command cli_status_command;
extern const struct cli_command cli_events_command;
extern const struct cli_command cli_products_group;
extern const struct cli_command cli_releases_group;
extern const struct cli_command cli_release_command;
extern const struct cli_command cli_rollouts_group;
/* The server's images, in the image group (cmd_images.c). */
extern const struct cli_command cli_image_upload_cmd;
extern const struct cli_command cli_image_list_cmd;
extern const struct cli_command cli_image_show_cmd;
extern const struct cli_command cli_image_remove_cmd;
extern const struct cli_command cli_updates_group; /* issue 12: updates list|show|cancel */
extern const struct cli_command cli_fleet_group;   /* issue 12: fleet versions */
extern const struct cli_command cli_usage_command; /* issue 12: usage */
extern const struct cli_command cli_tokens_group;  /* issue 14: tokens create|list|revoke */

/* ---- net: text that devices and users wrote, made safe for a terminal (cli/escape.c) ---- */

/*
 * Copy in to out (at most cap bytes, NUL-terminated; out NULL: only count) with every
 * control character (C0, DEL, and C1 whether UTF-8-encoded or a stray byte) written as
 * \xNN (two lower-case hex digits of the code point). Returns the length of the whole
 * escaped text (without the NUL), as snprintf does.
 */
size_t cli_escape(const char *in, char *out, size_t cap);
/* Escape, as cli_escape, every string value in v (object keys are the server's own). Every
 * API reply and event goes through it before human-readable output (not --json: JSON
 * escapes control characters itself, and its readers need the exact text). */
void cli_json_escape_strings(json_t *v);

/* A rollout device's state in words ("hand_flashed": "flashed by hand"; cli/util.c). */
const char *cli_rollout_state_words(const char *state);

/* ---- the server (cli/api.c): settings and HTTP/JSON calls to airliftd's API ---- */

#define CLI_URL_MAX 512
#define CLI_TOKEN_MAX 256

/* Where the server is and who we are: defaults < config file < environment < flags. */
struct cli_server {
    char url[CLI_URL_MAX];     /* "http://127.0.0.1:7780", no trailing slash */
    char token[CLI_TOKEN_MAX];
    char source[CLI_URL_MAX + 32]; /* where the token came from, for error messages */
    /* issue 14 (tokens): the CA certificates (PEM) an https:// server's certificate must
     * chain to; "" = the system's store. */
    char cacert[CLI_URL_MAX];
};

/* Resolve the settings; prints the error and returns an exit code on failure, else 0. */
int cli_server_load(struct cli *cli, struct cli_server *srv);

/*
 * One API call. body: JSON to send (not stolen), or raw bytes with raw_type. On a reply,
 * *status is its HTTP status and *reply its JSON body (NULL if none; caller decrefs); the
 * call returns 0 whatever the status. If the server cannot be reached it prints why and
 * returns CLI_EXIT_SERVER.
 */
int cli_api(struct cli *cli, const struct cli_server *srv, const char *method, const char *path,
            json_t *body, const uint8_t *raw, size_t raw_len, const char *raw_type, long *status,
            json_t **reply);
/* Print the API's error (its message, or the status) and return CLI_EXIT_SERVER. */
int cli_api_error(struct cli *cli, const struct cli_server *srv, long status, json_t *reply);
/* cli_api that treats any status >= 300 as an error (printed; CLI_EXIT_SERVER). */
int cli_api_ok(struct cli *cli, const struct cli_server *srv, const char *method,
               const char *path, json_t *body, json_t **reply);

/*
 * Append "?key=value" (or "&key=value" if path has a query already) to path, the value
 * percent-encoded. false if it would not fit in cap (path is then unchanged).
 */
bool cli_query_add(char *path, size_t cap, const char *key, const char *value);

/*
 * Append "/" and a name or version given on the command line to an API path. A value that
 * is neither a name (alc_name_valid(), the API's rule) nor a version (al_version_parse()),
 * or that does not fit cap, is a usage error naming `what` ("product"): returns
 * CLI_EXIT_USAGE, else 0.
 */
int cli_path_add(struct cli *cli, char *path, size_t cap, const char *what, const char *value);

/* One server-sent event: id ("" if none), type ("message" if none), data (its lines joined
 * by '\n'). */
struct cli_sse_event {
    const char *id;
    const char *type;
    const char *data;
};
/* Called once with ev == NULL when the server has accepted the stream, then for each
 * event; returning non-zero ends the stream. */
typedef int (*cli_sse_fn)(void *ctx, const struct cli_sse_event *ev);

/*
 * GET path as a stream of server-sent events (text/event-stream), calling fn, until fn
 * returns non-zero or *stop becomes non-zero (checked at least once a second): then 0.
 * An unreachable server, an API error, a stream that breaks, ends or stays silent for 45 s
 * (the server sends a keepalive every 15 s) are printed and return CLI_EXIT_SERVER.
 */
int cli_api_stream(struct cli *cli, const struct cli_server *srv, const char *path,
                   cli_sse_fn fn, void *ctx, const volatile sig_atomic_t *stop);

/* ---- option parsing ---- */

struct cli_option {
    const char *name;  /* long name without "--" */
    char short_name;   /* 0 if none */
    bool has_value;    /* takes a value: "--name V", "--name=V", "-n V" */
    int id;            /* returned by cli_parser_next; must be >= 0 */
};

enum {
    CLI_ARG_DONE = -1,       /* no more arguments */
    CLI_ARG_POSITIONAL = -2, /* *value is a positional argument */
    CLI_ARG_HELP = -3,       /* --help or -h: print help and stop */
    CLI_ARG_ERROR = -4,      /* a usage error, already reported */
};

struct cli_parser {
    struct cli *cli;
    const struct cli_option *options; /* terminated by an entry with name == NULL */
    int argc;
    char **argv;
    int next;
    bool only_positionals; /* after "--" */
};

void cli_parser_init(struct cli_parser *p, struct cli *cli, const struct cli_option *options,
                     int argc, char **argv);
/* Next option id, or a CLI_ARG_* value. --json is handled here (sets cli->json). */
int cli_parser_next(struct cli_parser *p, const char **value);

/*
 * Parse the arguments of a leaf that takes exactly n positional arguments and no options
 * (but --help and --json): into args[0..n-1]. usage names them ("PRODUCT VERSION") for the
 * error when some are missing. Returns 0, -1 after printing --help, or an exit code.
 */
int cli_positionals(struct cli *cli, const struct cli_command *self, int argc, char **argv,
                    const char **args, int n, const char *usage);
/* "bootloader", "system", "application" (or "app"), "radio", or 1..4. */
bool cli_parse_function(const char *s, uint8_t *out);
bool cli_parse_version(const char *s, struct al_version *out);
/* "FUNC:INDEX:MINVERSION", e.g. "system:1:0.7.0". */
bool cli_parse_dependency(const char *s, struct al_dependency *out);

/* ---- messages ---- */

/* "airlift: <message>" on stderr; returns code. With --json and nothing printed yet, also
 * {"error": {"exit_code": code, "message": "<message>"}} on stdout. */
int cli_error(struct cli *cli, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "airlift <path>: <message>" and a hint to --help on stderr (and JSON as cli_error);
 * returns CLI_EXIT_USAGE. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_print_help(const struct cli_command *cmd, const char *path);

/* ---- files ---- */

enum cli_read_status { CLI_READ_OK = 0, CLI_READ_IO = -1, CLI_READ_TOO_LARGE = -2 };

/*
 * Read a whole regular file of at most max bytes into *buf (malloc'ed; caller frees; not
 * NUL-terminated). On failure *buf is NULL and err says why (without the path).
 */
enum cli_read_status cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
                                   char *err, size_t errlen);
/* 1 if something exists at path, 0 if not, -1 if that cannot be told (errno kept). */
int cli_path_exists(const char *path);

/* ---- output ---- */

/* "electron (10)" for a platform the table knows (airlift_common/platform.h), else the
 * number alone; into buf, returned. */
const char *cli_platform_str(long long platform, char *buf, size_t cap);
/*
 * A size for people, in the one unit style of the CLI (docs/cli.md, "Sizes"): decimal units
 * as carriers bill, 1 kB = 1000 bytes: "999 B", "1.0 kB" .. "999.9 kB", "1.00 MB" ..
 * "999.99 MB", "1.00 GB" and up. Into buf, returned.
 */
const char *cli_size_str(uint64_t bytes, char *buf, size_t cap);
/* Canonical version string into buf (AL_VERSION_STR_MAX). */
const char *cli_version_str(const struct al_version *v, char buf[AL_VERSION_STR_MAX]);
/* Print v as indented JSON (with cli->ndjson: one compact line) on stdout and release it.
 * Returns 0 or CLI_EXIT_INTERNAL. */
int cli_json_print(struct cli *cli, json_t *v);
/* json object setters that survive NULL values (jansson's *_new helpers return NULL on OOM). */
void cli_json_set(json_t *obj, const char *key, json_t *value);
/* {"code": n, "name": "hash_mismatch", "message": "hash mismatch"} */
json_t *cli_json_al_err(al_err err);
/* o[key] as a string ("" if absent or not a string) and as an integer (0 if not one). */
const char *cli_jstr(json_t *o, const char *key);
long long cli_jint(json_t *o, const char *key);

/* ---- image helpers, shared with the server commands to come ---- */

/* The header as a JSON object (fields in docs/cli.md). NULL on out of memory. */
json_t *cli_image_header_json(const struct al_image_header *h);

/* ---- image files sent to the server (cli/upload.c): flash, releases create ---- */

/* An image file checked here: structure, payload hash, platform, signature (with keys). */
struct cli_local_image {
    const char *path;
    uint8_t *file; /* the whole file once read; cli_images_free releases it */
    size_t len;
    struct al_image_header h;
    char sha256[2 * AL_SHA256_SIZE + 1]; /* payload hash, lower-case hex */
    char id[2 * AL_SHA256_SIZE + 1];     /* image id: SHA-256 of the file, lower-case hex */
};

/* Load n signing keys (private or public PEM) for signature checks; exit code or 0. */
int cli_load_keys(struct cli *cli, const char *const *paths, size_t n, struct al_key *keys);
/*
 * Read img->path and check it: an airlift image of the right size whose payload matches its
 * hash, built for `platform` (else "built for platform 6; <owner> is platform 10"), signed
 * by a key of ring if ring holds any. Prints the error and returns its exit code, else 0.
 */
int cli_image_check(struct cli *cli, struct cli_local_image *img, uint16_t platform,
                    const char *owner, const struct al_keyring *ring);
/* Check each image (cli_image_check), at most one per module (else a usage error), and
 * upload it (POST /v1/images; one the server already holds is fine). Exit code or 0. */
int cli_images_send(struct cli *cli, const struct cli_server *srv, struct cli_local_image *imgs,
                    size_t n, uint16_t platform, const char *owner, const struct al_keyring *ring);
void cli_images_free(struct cli_local_image *imgs, size_t n);

#endif
