/*
 * events.h - the events service: reading the event log (GET /v1/events and the live stream
 * GET /v1/events/stream, docs/api.md "Events"), and the server's health.
 */
#ifndef AIRLIFTD_EVENTS_H
#define AIRLIFTD_EVENTS_H

#include <stdint.h>

#include "result.h"
#include "store.h"

/* Call each(ctx, event) for the events that match f, in ascending id order (the store is
 * locked meanwhile: each must not call the store). Errors: INTERNAL. */
struct ald_result ald_event_list(struct ald_store *st, const struct ald_event_filter *f,
                                 ald_event_cb each, void *ctx);

/* The id of the newest event (0: none) into *out; every older event is visible to
 * ald_event_list by then. Errors: INTERNAL. */
struct ald_result ald_event_last_id(struct ald_store *st, int64_t *out);

/*
 * Is the database answering? On success *schema_version is the schema in use and *backend
 * the store's name ("sqlite"). Errors: UNAVAILABLE "unavailable".
 */
struct ald_result ald_health(struct ald_store *st, int *schema_version, const char **backend);

#endif
