/*
 * http_api.h - airliftd's management API: HTTP/JSON under /v1 on libmicrohttpd, with a pool
 * of worker threads. Every endpoint is documented in docs/api.md.
 */
#ifndef AIRLIFTD_HTTP_API_H
#define AIRLIFTD_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlift/image.h"
#include "config.h"
#include "store.h"

#define ALD_JSON_BODY_MAX (64u * 1024u)         /* any JSON request body */
#define ALD_IMAGE_BODY_MAX ((size_t)AL_IMAGE_MAX_FILE) /* an uploaded image file */

struct ald_http;

/*
 * Listen on `listen` and serve with `threads` workers. store, updates, rollouts (the service
 * the fleet endpoints use, docs/fleets.md; NULL: they answer 503) and data_dir must outlive
 * the server. Returns 0, or -1 with err set (typically: the address cannot be bound).
 */
struct ald_updates;
struct ald_rollouts;
struct ald_http_tls;
int ald_http_start(struct ald_http **out, const struct ald_listen *listen, unsigned threads,
                   struct ald_store *store, struct ald_updates *updates,
                   struct ald_rollouts *rollouts, const char *data_dir,
                   const struct ald_http_tls *tls, char *err, size_t errlen);

/* ---- TLS (issue 14, tokens): the API over HTTPS, --tls-cert / --tls-key ---- */

/* A certificate chain and its private key, as NUL-terminated PEM text. */
struct ald_http_tls {
    char *cert_pem; /* the server's certificate first, then any intermediates */
    char *key_pem;  /* unencrypted */
};

/*
 * Read and check the TLS material: this libmicrohttpd must support TLS
 * (MHD_FEATURE_TLS), cert_path must hold a PEM certificate and key_path the PEM private key
 * that belongs to it. Returns 0 (free with ald_http_tls_free), or -1 with err naming the
 * flag and file at fault (nothing to free). Passing it to ald_http_start serves HTTPS only;
 * a NULL there serves plain HTTP.
 */
int ald_http_tls_load(struct ald_http_tls *tls, const char *cert_path, const char *key_path,
                      char *err, size_t errlen);
/* Wipe the key and free both texts; a zeroed or already freed one is a no-op. */
void ald_http_tls_free(struct ald_http_tls *tls);

/* issue 15 (ops): serve GET /metrics without a token (on: --metrics-public) or only to a
 * token with the read scope (off, the default). */
void ald_http_set_metrics_public(struct ald_http *h, bool on);
/* issue 14 (creds): the CAs device certificates of POST /v1/devices must come from (NULL:
 * none, certificate devices are refused). cas must outlive h. (h_devices.c) */
struct ald_device_cas;
void ald_http_set_device_cas(struct ald_http *h, const struct ald_device_cas *cas);

/* issue 14 (ddi): the DDI API's tenant, gateway token ("" none), poll interval (seconds)
 * and whether its links are https (docs/ddi.md). Call before devices poll; until then the
 * tenant is "" and every DDI request answers 404. */
void ald_http_set_ddi(struct ald_http *h, const char *tenant, const char *gateway_token,
                      unsigned poll_s, bool https);

/* The port actually bound (useful with port 0). */
uint16_t ald_http_port(const struct ald_http *h);

/*
 * Shut down: stop accepting connections, let requests being handled finish, close the
 * rest, join the workers and free h. NULL is a no-op.
 */
void ald_http_stop(struct ald_http *h);

#endif
