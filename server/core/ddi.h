/*
 * ddi.h - issue 14 item 6: Eclipse hawkBit's Direct Device Integration API, the core's side
 * (the HTTP side is server/http/h_ddi.c; what is served: docs/ddi.md).
 *
 * A DDI target is an airlift device of platform linux (ALC_PLATFORM_LINUX); its
 * controllerId is the device's name. Its active update (updates.h), always one .swu image
 * (swu.h), is the DDI action whose id is the update id; the device's feedback moves that
 * update through the same states as any other (downloading, installing, succeeded, failed,
 * cancelled), so rollouts, waves, auto-pause, events and byte accounting see no difference.
 * What the device reported (the .swu it runs, its config data, the cancel it acknowledged)
 * is kept as its inventory: {"ddi": true, "swu": {"image", "version"}, "attributes": {..},
 * "cancel_ack": id}.
 */
#ifndef AIRLIFTD_DDI_H
#define AIRLIFTD_DDI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "result.h"
#include "store.h"

struct ald_updates;

#define ALD_DDI_TOKEN_MAX 128
#define ALD_DDI_DETAILS_MAX 48 /* feedback details kept (SWUpdate sends at most 48) */

/* The settings of the DDI API (airliftd --ddi-*). */
struct ald_ddi_conf {
    char tenant[65];                      /* the one tenant served */
    char gateway_token[ALD_DDI_TOKEN_MAX + 1]; /* "": no gateway token accepted */
    unsigned poll_s;                      /* config.polling.sleep */
};

/*
 * Authenticate a DDI request for `tenant`/`controller` with the request's Authorization
 * header value (NULL if none): "TargetToken T" where T is the device's target token (its
 * PSK in lowercase hex, docs/ddi.md), or "GatewayToken G" with the configured gateway token.
 * On success *dev is the device. Errors: NOT_FOUND (another tenant; no such device, or not
 * of platform linux: "not_found"), UNAUTHORIZED "unauthorized" (no or a wrong token, the
 * message says which), INTERNAL.
 */
struct ald_result ald_ddi_auth(struct ald_store *st, const struct ald_ddi_conf *conf,
                               const char *tenant, const char *controller, const char *auth,
                               struct ald_device_rec *dev);

/*
 * The poll resource's body for dev: config.polling.sleep and the _links (deploymentBase,
 * cancelAction, configData) under `base` ("http://host:port/tenant/controller/v1/name").
 * The caller records the exchange (ald_ddi_account). NULL only if out of memory or the store fails (*res then says which).
 */
json_t *ald_ddi_poll(struct ald_store *st, const struct ald_ddi_conf *conf,
                     const struct ald_device_rec *dev, const char *base, struct ald_result *res);

/*
 * The deploymentBase resource of action `action` (an update id) of dev; artifact links go
 * under `base`. The first fetch starts the update (queued -> downloading). Errors:
 * NOT_FOUND (not this device's active update), INTERNAL.
 */
struct ald_result ald_ddi_deployment(struct ald_updates *u, struct ald_store *st,
                                     const char *data_dir, const struct ald_device_rec *dev,
                                     int64_t action, const char *base, json_t **out);

/* The cancelAction resource of action `action`. Errors: NOT_FOUND (not a cancelled update
 * of dev that dev has yet to acknowledge). */
struct ald_result ald_ddi_cancel_action(struct ald_store *st, const struct ald_device_rec *dev,
                                        int64_t action, json_t **out);

/* A feedback body, parsed (ald_ddi_feedback_parse). Strings point into the document. */
struct ald_ddi_feedback {
    const char *execution; /* closed, proceeding, canceled, scheduled, rejected, resumed,
                            * downloaded, download */
    const char *finished;  /* success, failure, none */
    const char *details[ALD_DDI_DETAILS_MAX];
    size_t ndetails;
};

/* Read a feedback body {"status": {"execution", "result": {"finished"}, "details"}} (other
 * members, "id", "time", "progress", are ignored). Errors: BAD_REQUEST naming the field. */
struct ald_result ald_ddi_feedback_parse(json_t *doc, struct ald_ddi_feedback *fb);

/*
 * Feedback on action `action` of dev (cancel: on its cancelAction). Deployment feedback
 * moves the update (docs/ddi.md, "Feedback"): closed+success or closed+none -> succeeded
 * (and the device runs the .swu), closed+failure and rejected -> failed with the details as
 * its why, canceled -> cancelled, downloaded -> installing, the others -> downloading, or
 * installing once the whole artifact was served. Cancel feedback records the
 * acknowledgement. Errors: NOT_FOUND (no such action of dev), CONFLICT "final" (deployment
 * feedback on an update that ended), INTERNAL.
 */
struct ald_result ald_ddi_feedback(struct ald_updates *u, struct ald_store *st,
                                   const struct ald_device_rec *dev, int64_t action, bool cancel,
                                   const struct ald_ddi_feedback *fb);

/* configData: the device's attributes ({"data": {name: string}, "mode": merge (default),
 * replace or remove}) into its inventory. Errors: BAD_REQUEST naming the field, INTERNAL. */
struct ald_result ald_ddi_config_data(struct ald_store *st, const struct ald_device_rec *dev,
                                      json_t *doc);

/*
 * The artifact `filename` of action `action` of dev: the .swu image "<image id>.swu" of that
 * update (any state), into *img. Errors: NOT_FOUND.
 */
struct ald_result ald_ddi_artifact(struct ald_store *st, const struct ald_device_rec *dev,
                                   int64_t action, const char *filename,
                                   struct ald_image_rec *img);

/* Count bytes of a DDI exchange of dev: tx to it, rx from it, into its (and its active
 * update's) wire counters, and mark it seen. */
void ald_ddi_account(struct ald_store *st, const struct ald_device_rec *dev, uint64_t tx,
                     uint64_t rx);

#endif
