/*
 * store.h - airliftd's storage interface, version 2 (docs/store.md).
 *
 * Everything the daemon keeps goes through one small table of operations, like SQLite's VFS.
 * store_sql.c implements it once, over the SQL driver interface of sqldb.h, for two engines:
 * an embedded SQLite file (the default, "sqlite:PATH") and PostgreSQL ("postgresql://...",
 * several airliftd nodes on one database). Callers never see SQL, connections or backend
 * structs.
 *
 * Contract for every operation:
 *  - Returns an ald_store_rc. ALD_STORE_ERROR means the backend failed (bad data, disk full,
 *    out of memory); the backend has logged the detail, callers answer 500 / exit 3.
 *    ALD_STORE_UNAVAILABLE: the database cannot be reached (the connection is reconnected
 *    on next use). ALD_STORE_RETRY: the transaction lost a race; run it again.
 *  - Safe to call from several threads at once (the backend pools connections). An
 *    operation called on a transaction handle (ops->begin) runs inside that transaction;
 *    one called on the store runs on its own (atomically when it writes several rows).
 *  - Records are caller-owned, fixed-size structs: no allocation crosses the interface.
 *    Strings in records are NUL-terminated and bounded by the array sizes below; a backend
 *    refuses (ALD_STORE_ERROR) data that would not fit rather than truncating it.
 *  - Lists stream through a callback, row by row, in a stable order; a callback returning
 *    non-zero stops the listing early (the operation still returns ALD_STORE_OK). A
 *    callback must not call the store (the connection is busy with the listing).
 *  - Timestamps are milliseconds since the Unix epoch, UTC; 0 means "never / unknown".
 *  - Updates and rollouts carry a revision (rev): save writes only if the stored revision
 *    equals the record's, then bumps it; otherwise ALD_STORE_CONFLICT.
 *
 * Extending it: add record structs and operations at the end of struct ald_store_ops, a
 * migration to each dialect's list in store_sql.c, and never change the meaning of an
 * existing operation (docs/store.md "Adding an operation").
 */
#ifndef AIRLIFTD_STORE_H
#define AIRLIFTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum ald_store_rc {
    ALD_STORE_OK = 0,
    ALD_STORE_NOT_FOUND = 1, /* no such record */
    ALD_STORE_EXISTS = 2,    /* a unique key (name, identity, hash) is already taken */
    ALD_STORE_ERROR = 3,     /* the backend failed; detail in the log */
    ALD_STORE_RETRY = 4,     /* serialization failure / deadlock: run the transaction again */
    ALD_STORE_CONFLICT = 5,  /* a revision did not match: someone saved the record first */
    ALD_STORE_UNAVAILABLE = 6, /* the database cannot be reached */
};

/* What an API token may do; each scope includes the ones below it. */
enum ald_scope {
    ALD_SCOPE_READ = 1,     /* GET everything except tokens */
    ALD_SCOPE_OPERATOR = 2, /* + devices, images, updates */
    ALD_SCOPE_ADMIN = 3,    /* + tokens */
};

#define ALD_IDENTITY_MAX_LEN 64  /* DTLS PSK identity */
#define ALD_PSK_MAX_LEN 64       /* DTLS PSK bytes */
#define ALD_SUBJECT_MAX 255      /* issue 14 (creds): a device certificate's subject, shown */
#define ALD_INVENTORY_MAX 16384  /* reported inventory, as JSON text */
#define ALD_VERSION_MAX 49       /* "4294967295.4294967295.4294967295-" + 16-byte tag */
#define ALD_VERSION_KEY_MAX 192  /* see ald_version_sort_key(): 32 + 8 ids x 18 at most */
#define ALD_DEPS_JSON_MAX 2048   /* at most 8 dependencies, as JSON text */
#define ALD_EVENT_TYPE_MAX 64
#define ALD_EVENT_DATA_MAX 4096  /* event payload, as JSON text */
#define ALD_EVENT_ACTOR_MAX 79   /* a token name (64), or "rollout " and an id */

struct ald_token_rec {
    int64_t id;                    /* assigned by token_create */
    char name[ALD_NAME_MAX + 1];
    uint8_t sha256[32];            /* SHA-256 of the token string; the token is never stored */
    enum ald_scope scope;
    int64_t created_at;
    int64_t last_used_at;
    bool revoked;
    /* issue 14 (tokens): when it stops working, 0 = never (set at create); when it was
     * revoked, 0 = not revoked or revoked before this was recorded (token_revoke sets it). */
    int64_t expires_at;
    int64_t revoked_at;
};

#define ALD_GROUPS_JSON_MAX 512

struct ald_product_rec {
    int64_t id;
    char name[ALD_NAME_MAX + 1];
    uint16_t platform;
    int64_t created_at;
};

struct ald_device_rec {
    int64_t id;
    char name[ALD_NAME_MAX + 1];
    char identity[ALD_IDENTITY_MAX_LEN + 1];
    uint8_t psk[ALD_PSK_MAX_LEN];
    size_t psk_len;
    uint16_t platform;
    bool dev;                      /* development device: releases leave it alone */
    int64_t product_id;            /* 0: in no product */
    char groups_json[ALD_GROUPS_JSON_MAX]; /* JSON array of group names, "[]" if none */
    char channel[ALD_NAME_MAX + 1];  /* the release channel it follows ("stable") */
    char pinned[ALD_VERSION_MAX + 1]; /* a release version it stays on; "" if not pinned */
    int64_t created_at;
    int64_t last_seen_at;
    int64_t reported_at;           /* when the inventory below was reported; 0: never */
    int64_t next_checkin_at;       /* a sleeping device said it is back then; 0: not asleep */
    uint64_t bytes_tx, bytes_rx;   /* wire bytes to / from the device, ever */
    char inventory[ALD_INVENTORY_MAX]; /* JSON text, "" if never reported */
    int64_t removed_at;            /* a removed device's tombstone: when; 0: a live device.
                                    * Only device_by_identity returns tombstones. */
    /* issue 14 (creds): how the device authenticates: "psk" (psk set), "x509" (identity ==
     * fingerprint, psk_len 0); "rpk" is reserved (docs/protocol.md). fingerprint: hex
     * SHA-256 of the certificate's SubjectPublicKeyInfo, "" for psk. subject: the
     * certificate's subject (RFC 2253), "" for psk. disabled: new handshakes are refused. */
    char credential[8];
    char fingerprint[ALD_SHA256_HEX + 1];
    char subject[ALD_SUBJECT_MAX + 1];
    bool disabled;
};

/* An image the server holds. Its id names it: the SHA-256 of the whole image file (header,
 * signature and payload), hex, lowercase; an image stored before schema 6 keeps its payload
 * hash as its id (docs/image-format.md, "Image identity"). Several images may share one
 * payload (the same module signed again: another security counter, another key). */
struct ald_image_rec {
    char id[ALD_SHA256_HEX + 1];     /* the image's name; also its blob's key */
    char sha256[ALD_SHA256_HEX + 1]; /* payload hash */
    uint8_t function;
    uint8_t index;
    uint16_t platform;
    char version[ALD_VERSION_MAX + 1];
    char version_key[ALD_VERSION_KEY_MAX + 1]; /* sorts like semver precedence */
    uint32_t security_counter;
    uint32_t link_address;
    uint32_t payload_size;
    uint64_t file_size;
    char key_id[17];               /* signing key id, hex */
    char deps_json[ALD_DEPS_JSON_MAX]; /* [{"function":"system","index":1,"min_version":"0.7.0"}] */
    int64_t created_at;
};

/* Something that happened; the history of devices, updates and rollouts, and the SSE feed. */
struct ald_event_rec {
    int64_t id;                    /* assigned by event_append, strictly increasing */
    int64_t ts;
    char device[ALD_NAME_MAX + 1]; /* "" if not about one device */
    int64_t update_id;             /* 0 if not about one update */
    int64_t rollout_id;            /* 0 if not about one rollout */
    char type[ALD_EVENT_TYPE_MAX + 1]; /* "device.created", "image.uploaded", ... */
    char data[ALD_EVENT_DATA_MAX]; /* JSON object text, "{}" if nothing more to say */
    int64_t device_id;             /* the device's id; append: 0 takes the live device named
                                    * `device` (none: 0) */
    char actor[ALD_EVENT_ACTOR_MAX + 1]; /* who did it: a token's name, "rollout N",
                                          * "device", "airliftd"; "" if not recorded */
};

/* An update: make one device run a set of images (docs/api.md "Updates"). */
#define ALD_UPDATE_STATE_MAX 15
#define ALD_WANTED_JSON_MAX 1024 /* JSON array of at most 8 image ids */
#define ALD_STEPS_JSON_MAX 4096  /* the current plan, as JSON */
#define ALD_RESULT_MAX 31
#define ALD_WHY_MAX 511
struct ald_update_rec {
    int64_t id;                    /* assigned by update_create */
    int64_t device_id;
    char device[ALD_NAME_MAX + 1]; /* filled by reads */
    char state[ALD_UPDATE_STATE_MAX + 1]; /* "queued", ..., "succeeded" */
    char wanted_json[ALD_WANTED_JSON_MAX];
    char steps_json[ALD_STEPS_JSON_MAX];
    bool estimate_only;            /* planned without an inventory */
    bool full_only;                /* the device failed a compressed or delta transfer */
    uint32_t plan_id;              /* of the plan last given to the device; 0: none */
    uint32_t step;                 /* step under way */
    uint32_t offset;               /* bytes of that step the device holds */
    uint64_t done_bytes;           /* transfer bytes of the steps already installed */
    uint64_t total_bytes;          /* transfer bytes of the whole plan, installed steps too */
    uint64_t wire_estimate;
    uint64_t bytes_tx, bytes_rx;   /* wire bytes while this update was active */
    char result[ALD_RESULT_MAX + 1]; /* device result name, "" if none */
    char why[ALD_WHY_MAX + 1];
    int64_t created_at, started_at, updated_at, finished_at; /* 0: not yet */
    int64_t rollout_id;            /* the rollout that started it; 0: a user did */
    int64_t rev;                   /* revision: 1 after create, + 1 per save */
    char queued_by[ALD_NAME_MAX + 1]; /* the token name that queued it; "" for a rollout */
};

/* Fleets (docs/fleets.md). A release: a set of images with a version, on a channel. */
#define ALD_TARGET_JSON_MAX 1024
#define ALD_WAVES_JSON_MAX 512
struct ald_release_rec {
    int64_t id;
    int64_t product_id;
    char version[ALD_VERSION_MAX + 1];
    char channel[ALD_NAME_MAX + 1];
    char images_json[ALD_WANTED_JSON_MAX]; /* JSON array of image ids */
    char notes[ALD_WHY_MAX + 1];
    int64_t created_at;
};

/* A rollout: a release going out to the devices of a target, wave by wave. */
struct ald_rollout_rec {
    int64_t id;
    int64_t release_id;
    char target_json[ALD_TARGET_JSON_MAX]; /* {"groups":[...],"channel":"beta"}; {}: all */
    char waves_json[ALD_WAVES_JSON_MAX];   /* [{"percent":5},{"count":20},{"percent":100}] */
    int success_percent;           /* of a wave that must succeed before the next starts */
    int error_count;               /* pause when failures + reverts reach this; 0: unused */
    int error_percent;             /* or this percent of the updates started; 0: unused */
    int rate_per_min;              /* updates started per minute at most; 0: no limit */
    uint64_t budget_bytes_per_day; /* a device's automatic-update bytes per 24 h; 0: none */
    char state[ALD_UPDATE_STATE_MAX + 1]; /* running, paused, completed, cancelled */
    char why[ALD_WHY_MAX + 1];
    int64_t created_at, updated_at, finished_at;
    int64_t rev;                   /* revision: 1 after create, + 1 per save */
};

/* One device of a rollout. */
struct ald_rollout_device_rec {
    int64_t rollout_id;
    int64_t device_id;
    char device[ALD_NAME_MAX + 1]; /* filled by reads */
    int wave;
    char state[ALD_UPDATE_STATE_MAX + 1]; /* pending, updating, succeeded, failed, reverted,
                                           * cancelled, deferred (over its data budget) */
    int64_t update_id;
    int64_t started_at, finished_at;
};

struct ald_event_filter {
    int64_t after_id;              /* only events with id > after_id */
    const char *device;            /* NULL: any */
    size_t limit;                  /* 0: no limit */
    int64_t update_id;             /* 0: any */
    int64_t rollout_id;            /* 0: any */
    const char *type_prefix;       /* NULL: any; else types starting with it ("update.") */
    int64_t device_id;             /* 0: any; else events of the device with this id (a
                                    * removed one too); `device` names the live device */
    int64_t since_ms;              /* 0: any; else only events with ts >= since_ms */
    int64_t until_ms;              /* 0: any; else only events with ts < until_ms */
    int64_t before_id;             /* 0: any; else only events with id < before_id */
    bool newest;                   /* descending id order: the newest `limit` first */
};

/* Device queries (device_query, device_count): the devices matching every field set. */
struct ald_device_filter {
    int64_t product_id;        /* 0: any; -1: devices in no product */
    const char *group;         /* NULL: any; else devices whose groups contain it */
    const char *channel;       /* NULL: any */
    const char *function;      /* with index and version: devices whose last inventory has */
    int index;                 /*   that module (function name as the API spells it,      */
    const char *version;       /*   "system", "application", "bootloader", ...) at that
                                *   version; NULL: any */
    int online;                /* -1 any, 1 last_seen_at >= online_since, 0 not */
    int64_t online_since;
    int sleeping;              /* issue 13: 0 any (so a zeroed filter keeps its meaning), 1
                                * next_checkin_at > now_ms (a sleepy device between
                                * check-ins), -1 the others */
    int64_t now_ms;
    const char *update_state;  /* NULL any; "none": no active update; "active": any; else
                                * that state of the active update */
    const char *name_prefix;   /* NULL: any */
    const char *after_name;    /* keyset paging: names > after_name; NULL: from the start */
    size_t limit;              /* 0: no limit */
    /* issue 13 (sort): the order, and the cursor of a sort other than by name. A zeroed
     * filter keeps name order. With sort == ALD_SORT_NAME, desc puts names in descending
     * order and after_name then means names < after_name. With another sort the devices
     * come in (none last, value ascending or with desc descending, name ascending) order,
     * where "none" is a device without the value (never seen, no active update, ...);
     * after_name with after_key set means the devices after (after_none, after_value,
     * after_name) in that order (ald_device_sort_value gives a device's key). */
    int sort;                  /* enum ald_device_sort */
    bool desc;
    bool after_key;
    bool after_none;
    int64_t after_value;
};

/* issue 13 (sort): the orders of device_query (struct ald_device_filter, sort). */
enum ald_device_sort {
    ALD_SORT_NAME = 0,
    ALD_SORT_LAST_SEEN,    /* last_seen_at; none: never seen */
    ALD_SORT_REPORTED,     /* reported_at; none: never reported */
    ALD_SORT_NEXT_CHECKIN, /* next_checkin_at; none: not a sleepy device */
    ALD_SORT_BYTES,        /* bytes_tx + bytes_rx; never none */
    ALD_SORT_STATE,        /* the active update's state in its lifecycle order (queued 1,
                            * downloading 2, verifying 3, installing 4, rebooting 5,
                            * confirming 6, another 7); none: no active update */
};

/* A device without its PSK and inventory, with its active update. */
struct ald_device_summary {
    int64_t id;
    char name[ALD_NAME_MAX + 1];
    char identity[ALD_IDENTITY_MAX_LEN + 1];
    uint16_t platform;
    bool dev;
    int64_t product_id;
    char groups_json[ALD_GROUPS_JSON_MAX];
    char channel[ALD_NAME_MAX + 1];
    char pinned[ALD_VERSION_MAX + 1];
    int64_t created_at, last_seen_at, reported_at, next_checkin_at;
    uint64_t bytes_tx, bytes_rx;
    int64_t update_id;                           /* the active update; 0: none */
    char update_state[ALD_UPDATE_STATE_MAX + 1]; /* its state; "": none */
};

/* issue 13 (sort): the sort key of summary d under `sort` (not ALD_SORT_NAME), as
 * device_query orders by it: *none true for a device without the value (then 0). */
int64_t ald_device_sort_value(int sort, const struct ald_device_summary *d, bool *none);

#define ALD_MODULES_MANY_MAX 1000 /* issue 11 (checkin): ids per device_modules_many */

/* One module of a device's last inventory (the device_modules table). */
#define ALD_FUNCTION_NAME_MAX 15
struct ald_module_rec {
    int64_t device_id;
    char function[ALD_FUNCTION_NAME_MAX + 1];   /* "system", "application", ... */
    int index;
    char version[ALD_VERSION_MAX + 1];
    char version_key[ALD_VERSION_KEY_MAX + 1];  /* ald_version_sort_key() */
    char sha256[ALD_SHA256_HEX + 1];            /* payload hash, hex */
};

struct ald_rollout_device_filter {
    int64_t rollout_id;  /* 0: any */
    int64_t device_id;   /* 0: any */
    const char *state;   /* NULL: any */
    int max_wave;        /* -1: any; else only wave <= max_wave */
    size_t limit;        /* 0: no limit */
};

struct ald_store;

/* Bytes on the air of one device in one calendar month (UTC): GET /v1/usage. */
struct ald_usage_rec {
    int64_t device_id;
    char device[ALD_NAME_MAX + 1]; /* its name when the bytes were counted */
    char month[8];                 /* "2026-11" */
    uint64_t bytes_tx, bytes_rx;   /* wire bytes to / from it that month */
};
typedef int (*ald_usage_cb)(void *ctx, const struct ald_usage_rec *rec);

typedef int (*ald_device_summary_cb)(void *ctx, const struct ald_device_summary *rec);
typedef int (*ald_module_cb)(void *ctx, const struct ald_module_rec *rec);
typedef int (*ald_module_version_cb)(void *ctx, const char *function, int index,
                                     const char *version, uint64_t count);
/* issue 15 (ops): one row of state_counts. */
typedef int (*ald_state_count_cb)(void *ctx, const char *state, uint64_t n);
typedef int (*ald_rollout_count_cb)(void *ctx, int wave, const char *state, uint64_t n,
                                    uint64_t started_since);
typedef int (*ald_token_cb)(void *ctx, const struct ald_token_rec *rec);
typedef int (*ald_device_cb)(void *ctx, const struct ald_device_rec *rec);
typedef int (*ald_image_cb)(void *ctx, const struct ald_image_rec *rec);
typedef int (*ald_event_cb)(void *ctx, const struct ald_event_rec *rec);
typedef int (*ald_update_cb)(void *ctx, const struct ald_update_rec *rec);
typedef int (*ald_product_cb)(void *ctx, const struct ald_product_rec *rec);
typedef int (*ald_release_cb)(void *ctx, const struct ald_release_rec *rec);
typedef int (*ald_rollout_cb)(void *ctx, const struct ald_rollout_rec *rec);
typedef int (*ald_rollout_device_cb)(void *ctx, const struct ald_rollout_device_rec *rec);

struct ald_store_ops {
    const char *backend; /* "sqlite", "postgresql" */

    /* Flush and release everything; the store pointer is invalid afterwards. */
    void (*close)(struct ald_store *st);
    /* Schema version in use (the number of the last applied migration). Also a liveness
     * probe for /v1/health. */
    enum ald_store_rc (*schema_version)(struct ald_store *st, int *out);

    /* Tokens. create: fills rec->id and rec->created_at (now) from name, sha256, scope,
     * expires_at; revoke sets revoked and revoked_at (now);
     * EXISTS if the hash is taken. by_hash returns revoked tokens too (the caller decides).
     * touch records use, at most once a minute. revoke: NOT_FOUND if no such id. */
    enum ald_store_rc (*token_create)(struct ald_store *st, struct ald_token_rec *rec);
    enum ald_store_rc (*token_by_hash)(struct ald_store *st, const uint8_t sha256[32],
                                       struct ald_token_rec *out);
    enum ald_store_rc (*token_get)(struct ald_store *st, int64_t id, struct ald_token_rec *out);
    enum ald_store_rc (*token_touch)(struct ald_store *st, int64_t id, int64_t now);
    enum ald_store_rc (*token_revoke)(struct ald_store *st, int64_t id);
    enum ald_store_rc (*token_list)(struct ald_store *st, ald_token_cb cb, void *ctx);

    /* Devices. create: fills rec->id and rec->created_at; EXISTS if name or identity is
     * taken. get/by_identity: NOT_FOUND if absent (by_identity also finds the tombstone
     * of a removed device: removed_at != 0). report: stores an inventory (JSON text)
     * and sets reported_at = last_seen_at = now, and rewrites the device's device_modules
     * rows from the inventory's "modules" (atomically; an inventory that is not such JSON
     * leaves no module rows), and next_checkin_at unless that is -1 (as device_checkin,
     * in the same write: an unchanged inventory is one statement). delete: NOT_FOUND if
     * absent; leaves a tombstone (its id, identity and key; its name is free again),
     * deletes its module and rollout rows, keeps its updates and events (history outlives
     * devices; no id is ever reused). List in name order, tombstones left out. */
    enum ald_store_rc (*device_create)(struct ald_store *st, struct ald_device_rec *rec);
    enum ald_store_rc (*device_get)(struct ald_store *st, const char *name,
                                    struct ald_device_rec *out);
    enum ald_store_rc (*device_by_identity)(struct ald_store *st, const char *identity,
                                            struct ald_device_rec *out);
    enum ald_store_rc (*device_report)(struct ald_store *st, const char *name,
                                       const char *inventory_json, int64_t now,
                                       int64_t next_checkin_at);
    enum ald_store_rc (*device_delete)(struct ald_store *st, const char *name);
    enum ald_store_rc (*device_list)(struct ald_store *st, ald_device_cb cb, void *ctx);

    /* Images (metadata; blobs live in the data dir, see blobs.h). put: fills created_at if
     * 0; EXISTS if the id is already held. get: the oldest image whose payload hash is
     * sha256 (the whole meaning while a payload had one image; image_get_id and
     * image_by_payload below name images exactly). List by function, index, version, id. */
    enum ald_store_rc (*image_put)(struct ald_store *st, struct ald_image_rec *rec);
    enum ald_store_rc (*image_get)(struct ald_store *st, const char *sha256,
                                   struct ald_image_rec *out);
    enum ald_store_rc (*image_list)(struct ald_store *st, ald_image_cb cb, void *ctx);

    /* Events. append: fills rec->id, and rec->ts if 0. list: ascending id order, the events
     * that match every filter field set (at most limit). */
    enum ald_store_rc (*event_append)(struct ald_store *st, struct ald_event_rec *rec);
    enum ald_store_rc (*event_list)(struct ald_store *st, const struct ald_event_filter *f,
                                    ald_event_cb cb, void *ctx);

    /* Device liveness and wire bytes. seen: last_seen_at = now, adds tx/rx bytes to the
     * device, to its usage row of now's month (UTC; usage_list) and, when update_id is not
     * 0, to that update. checkin: next_checkin_at. */
    enum ald_store_rc (*device_seen)(struct ald_store *st, int64_t device_id, int64_t now,
                                     uint64_t tx, uint64_t rx, int64_t update_id);
    enum ald_store_rc (*device_checkin)(struct ald_store *st, int64_t device_id,
                                        int64_t next_checkin_at);

    /* Updates. create: fills id, created_at, updated_at, rev = 1. save: writes every field
     * but id, device_id, created_at and the byte counters (those only grow, via
     * device_seen), only if the stored rev equals rec->rev, then sets rec->rev to the new
     * revision; CONFLICT (nothing written) if the revisions differ, NOT_FOUND if no such id.
     * active: the device's update that is not final (at most one), else NOT_FOUND.
     * list: one device's updates, newest first, at most limit (0: all). */
    enum ald_store_rc (*update_create)(struct ald_store *st, struct ald_update_rec *rec);
    enum ald_store_rc (*update_save)(struct ald_store *st, struct ald_update_rec *rec);
    enum ald_store_rc (*update_get)(struct ald_store *st, int64_t id, struct ald_update_rec *out);
    enum ald_store_rc (*update_active)(struct ald_store *st, int64_t device_id,
                                       struct ald_update_rec *out);
    enum ald_store_rc (*update_list)(struct ald_store *st, int64_t device_id, size_t limit,
                                     ald_update_cb cb, void *ctx);

    /* Fleets. product_create: fills id, created_at; EXISTS if the name is taken.
     * device_set_fleet: product, groups, channel, pin and dev flag of one device.
     * release_create: fills id, created_at; EXISTS if the product has that version.
     * rollout_create: fills id, created_at, updated_at, rev = 1; rollout_save writes state,
     * why, updated_at and finished_at under the same revision rule as update_save.
     * rollout_device_put: insert or replace. auto_bytes: a device's wire bytes of updates
     * started by rollouts since a time. */
    enum ald_store_rc (*product_create)(struct ald_store *st, struct ald_product_rec *rec);
    enum ald_store_rc (*product_get)(struct ald_store *st, const char *name,
                                     struct ald_product_rec *out);
    enum ald_store_rc (*product_get_id)(struct ald_store *st, int64_t id,
                                        struct ald_product_rec *out);
    enum ald_store_rc (*product_list)(struct ald_store *st, ald_product_cb cb, void *ctx);
    enum ald_store_rc (*device_set_fleet)(struct ald_store *st, const struct ald_device_rec *rec);
    enum ald_store_rc (*release_create)(struct ald_store *st, struct ald_release_rec *rec);
    enum ald_store_rc (*release_get)(struct ald_store *st, int64_t product_id, const char *version,
                                     struct ald_release_rec *out);
    enum ald_store_rc (*release_get_id)(struct ald_store *st, int64_t id,
                                        struct ald_release_rec *out);
    enum ald_store_rc (*release_list)(struct ald_store *st, int64_t product_id, ald_release_cb cb,
                                      void *ctx);
    enum ald_store_rc (*rollout_create)(struct ald_store *st, struct ald_rollout_rec *rec);
    enum ald_store_rc (*rollout_save)(struct ald_store *st, struct ald_rollout_rec *rec);
    enum ald_store_rc (*rollout_get)(struct ald_store *st, int64_t id, struct ald_rollout_rec *out);
    enum ald_store_rc (*rollout_list)(struct ald_store *st, ald_rollout_cb cb, void *ctx);
    enum ald_store_rc (*rollout_device_put)(struct ald_store *st,
                                            const struct ald_rollout_device_rec *rec);
    enum ald_store_rc (*rollout_device_list)(struct ald_store *st, int64_t rollout_id,
                                             ald_rollout_device_cb cb, void *ctx);
    enum ald_store_rc (*auto_bytes)(struct ald_store *st, int64_t device_id, int64_t since,
                                    uint64_t *out);
    /* The id of the newest event, 0 if there is none. Every event with a smaller id is
     * visible to event_list by the time this returns (what a live stream relies on). */
    enum ald_store_rc (*event_last_id)(struct ald_store *st, int64_t *out);

    /* ---- version 2 ---- */

    /*
     * Transactions. begin: a handle bound to one connection; every operation called on *tx
     * runs inside the transaction (SQLite BEGIN IMMEDIATE; PostgreSQL BEGIN ISOLATION LEVEL
     * REPEATABLE READ). commit and rollback end it and free tx, whatever they return.
     * commit: OK, RETRY (run the whole transaction again) or UNAVAILABLE. Once an operation
     * on tx has returned EXISTS, RETRY, ERROR or UNAVAILABLE the transaction is spoilt:
     * commit rolls it back and returns that code. begin on a transaction handle is ERROR
     * (no nesting). While a transaction is open on SQLite the store's one connection is
     * taken: the thread holding tx must call operations on tx only. See ald_store_txn().
     */
    enum ald_store_rc (*begin)(struct ald_store *st, struct ald_store **tx);
    /* begin for a transaction that writes only what the device renews (device_report,
     * device_checkin, device_seen; update_save of transfer progress in the same state):
     * its commit may be lazy (docs/store.md, "Durability"). */
    enum ald_store_rc (*begin_bookkeeping)(struct ald_store *st, struct ald_store **tx);
    enum ald_store_rc (*commit)(struct ald_store *tx);
    enum ald_store_rc (*rollback)(struct ald_store *tx);

    /* Devices without their inventory, filtered (every field set) and in name order. */
    enum ald_store_rc (*device_query)(struct ald_store *st, const struct ald_device_filter *f,
                                      ald_device_summary_cb cb, void *ctx);
    /* How many devices match f (its after_name and limit are ignored). */
    enum ald_store_rc (*device_count)(struct ald_store *st, const struct ald_device_filter *f,
                                      uint64_t *out);
    /* The modules of one device's last inventory, by function and index. */
    enum ald_store_rc (*device_modules)(struct ald_store *st, int64_t device_id,
                                        ald_module_cb cb, void *ctx);
    /* The fleet's version distribution: how many devices run each (function, index,
     * version), of one product (product_id > 0), of no product (-1) or all (0); ordered by
     * function, index, version_key. */
    enum ald_store_rc (*module_versions)(struct ald_store *st, int64_t product_id,
                                         ald_module_version_cb cb, void *ctx);
    /* Rollouts whose state is `state` (NULL: all), id order. */
    enum ald_store_rc (*rollout_list_state)(struct ald_store *st, const char *state,
                                            ald_rollout_cb cb, void *ctx);
    /* Rollout devices matching every field of f, in (rollout_id, wave, device name) order. */
    enum ald_store_rc (*rollout_device_query)(struct ald_store *st,
                                              const struct ald_rollout_device_filter *f,
                                              ald_rollout_device_cb cb, void *ctx);
    /* One row per (wave, state) of a rollout, in that order: how many devices, and how many
     * of them started an update (started_at != 0) at or after since_ms. */
    enum ald_store_rc (*rollout_device_counts)(struct ald_store *st, int64_t rollout_id,
                                               int64_t since_ms, ald_rollout_count_cb cb,
                                               void *ctx);

    /* Claims: this node's exclusive hold on one piece of work (key: a rollout id), so that
     * of several nodes on one database one at a time does it, and a node that dies loses it
     * at once. claim sets *held (true: this node holds it, now or already; false: another
     * node does). Each call checks that the holding session is alive, so a claim lost with
     * its connection is never taken for held. unclaim lets go (OK if not held). PostgreSQL:
     * session advisory locks on a connection kept for claims alone; SQLite (one node): always
     * held. */
    enum ald_store_rc (*claim)(struct ald_store *st, int64_t key, bool *held);
    enum ald_store_rc (*unclaim)(struct ald_store *st, int64_t key);

    /* ---- images by id (issue 12) ---- */

    /* The image whose id is id; NOT_FOUND if none. */
    enum ald_store_rc (*image_get_id)(struct ald_store *st, const char *id,
                                      struct ald_image_rec *out);
    /* Every image whose payload hash is sha256, oldest first (created_at, then id). */
    enum ald_store_rc (*image_by_payload)(struct ald_store *st, const char *sha256,
                                          ald_image_cb cb, void *ctx);
    /* Remove the image row id; NOT_FOUND if none. The blob is the caller's. */
    enum ald_store_rc (*image_delete)(struct ald_store *st, const char *id);
    /* What needs image id: every release whose images name it (release id order), and
     * every active (not final) update whose wanted images or current steps name it (as the
     * image, or a patch's target or base), id order. */
    enum ald_store_rc (*image_releases)(struct ald_store *st, const char *id,
                                        ald_release_cb cb, void *ctx);
    enum ald_store_rc (*image_updates)(struct ald_store *st, const char *id, ald_update_cb cb,
                                       void *ctx);
    /* ---- issue 12 (cli) ---- */

    /* Usage rows (device_seen adds every device's wire bytes to its month's row), of one
     * device name (NULL: all) and one month "YYYY-MM" (NULL: all), by month, device. */
    enum ald_store_rc (*usage_list)(struct ald_store *st, const char *device, const char *month,
                                    ald_usage_cb cb, void *ctx);
    /* rollouts (i12): the rollouts of product `product_id` (any state), newest (highest id)
     * first; a callback returning non-zero stops the listing (docs/fleets.md: a device's
     * desired release is its newest live rollout's). */
    enum ald_store_rc (*rollout_list_product)(struct ald_store *st, int64_t product_id,
                                              ald_rollout_cb cb, void *ctx);
    /* ---- issue 15 (ops): the gauges of GET /metrics ---- */

    /* How many updates (rollouts false) or rollouts (true) are in each state: one callback
     * per state that has any, in state order; a callback returning non-zero stops. One
     * GROUP BY count query, not a scan of the rows into memory. */
    enum ald_store_rc (*state_counts)(struct ald_store *st, bool rollouts,
                                      ald_state_count_cb cb, void *ctx);
    /* ---- issue 11 (checkin): one query for a page of devices ---- */

    /* The modules of the devices ids[0..n) (n <= ALD_MODULES_MANY_MAX; ids need not be in
     * order, a repeated or unknown id adds nothing), by device id, function and index: the
     * rows device_modules gives for each of them, in one query. */
    enum ald_store_rc (*device_modules_many)(struct ald_store *st, const int64_t *ids, size_t n,
                                             ald_module_cb cb, void *ctx);
};

/* Every backend's handle starts with this, so callers can reach the table. */
struct ald_store {
    const struct ald_store_ops *ops;
};

enum ald_store_open_rc {
    ALD_STORE_OPEN_OK = 0,
    ALD_STORE_OPEN_BAD_URL = 1,      /* malformed, unknown scheme, or a driver not built in */
    ALD_STORE_OPEN_UNREACHABLE = 2,  /* cannot connect, or authentication failed */
    ALD_STORE_OPEN_NEWER_SCHEMA = 3, /* written by a newer airliftd: refused, not misread */
    ALD_STORE_OPEN_ERROR = 4,        /* anything else (unusable file, failed migration, ...) */
};

/*
 * Open the store at url ("sqlite:PATH", created if missing; "postgresql://..." or
 * "postgres://...", a libpq URI) and apply pending migrations (on PostgreSQL under an
 * advisory lock, so nodes starting together migrate once). Returns OK with *out set, or
 * another code with *out NULL and a message in err (never a password).
 */
enum ald_store_open_rc ald_store_open(const char *url, struct ald_store **out, char *err,
                                      size_t errlen);

/* The number of the newest schema migration this build knows (the same in every dialect). */
int ald_store_latest_schema(void);

/* Name of a result code ("ok", "not_found", ...), for logs and tests. */
const char *ald_store_rc_name(enum ald_store_rc rc);

/*
 * Run fn in a transaction: begin, fn(tx, ctx), commit. If fn returns anything but OK the
 * transaction is rolled back and that code returned. On RETRY (from begin, fn or commit)
 * the whole thing runs again, up to 5 more times, with a short growing pause; then RETRY.
 * fn must call the store only through tx, and may run more than once.
 */
enum ald_store_rc ald_store_txn(struct ald_store *st,
                                enum ald_store_rc (*fn)(struct ald_store *tx, void *ctx),
                                void *ctx);

/* ald_store_txn for bookkeeping only (ops->begin_bookkeeping): fn may call device_report,
 * device_checkin, device_seen, and update_save for transfer progress in the same state,
 * nothing that writes anything else. */
enum ald_store_rc ald_store_txn_bookkeeping(struct ald_store *st,
                                            enum ald_store_rc (*fn)(struct ald_store *tx,
                                                                    void *ctx),
                                            void *ctx);

/*
 * Key that sorts (bytewise) like semantic-version precedence: major, minor, patch as
 * 10-digit decimals, then "~" for a release or the pre-release identifiers, each as
 * "!#" + 16-digit number or "!$" + text, so numeric identifiers sort before alphanumeric
 * ones, and a release after all of its pre-releases. Returns false if out is too small.
 */
struct al_version;
bool ald_version_sort_key(const struct al_version *v, char *out, size_t cap);

/* Convenience: append an event with printf-free JSON data (data_json may be NULL for {}).
 * device may be NULL; update_id and rollout_id 0 for none. The actor is the calling
 * thread's (ald_event_actor_for(), events.h). */
enum ald_store_rc ald_event_emit(struct ald_store *st, const char *type, const char *device,
                                 int64_t update_id, const char *data_json);
enum ald_store_rc ald_event_emit_rollout(struct ald_store *st, const char *type,
                                         const char *device, int64_t update_id,
                                         int64_t rollout_id, const char *data_json);

/*
 * One write and the event that tells of it, committed together or not at all: in one
 * ald_store_txn, write(tx, ctx), then (if it returned OK) the event. data_json is read after
 * write ran, so write may fill the buffer it points at (an id it learnt). The write's code is
 * returned (EXISTS, NOT_FOUND...), or the event's or the commit's.
 */
struct ald_event_write {
    enum ald_store_rc (*write)(struct ald_store *tx, void *ctx);
    void *ctx;
    const char *type, *device; /* device may be NULL */
    int64_t update_id, rollout_id;
    const char *data_json;     /* NULL: {} */
};
enum ald_store_rc ald_store_write_with_event(struct ald_store *st, const struct ald_event_write *w);

/* The calendar month (UTC) of a time in ms, "2026-11", into out: usage rows' key. */
void ald_usage_month(int64_t ms, char out[8]);

/* Scope names: "read", "operator", "admin"; parse returns 0 for an unknown name. */
const char *ald_scope_name(enum ald_scope scope);
enum ald_scope ald_scope_parse(const char *s);

#endif
