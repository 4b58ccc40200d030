/*
 * events.h - the events service: reading the event log (GET /v1/events and the live stream
 * GET /v1/events/stream, docs/api.md "Events"), and the server's health.
 */
#ifndef AIRLIFTD_EVENTS_H
#define AIRLIFTD_EVENTS_H

#include <stdbool.h>
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
 * Who does what, for each event's `actor` (docs/api.md, "The event object"). Each thread
 * says on whose behalf it works: the HTTP API for the request's token (its name), the
 * device endpoint for the devices. ald_event_actor_for() then names the actor of an event
 * recorded on this thread:
 *  - on behalf of a token: its name (a user started, paused, cancelled, flashed ...);
 *  - on behalf of the devices: "rollout N" for what a rollout does by itself (rollout.*
 *    and update.queued events with a rollout id), else "device" (the device reported it);
 *  - otherwise (the rollout engine, the workers, startup): "rollout N" for an event with a
 *    rollout id, else "airliftd".
 * Names follow alc_name_valid(), so no token is named "rollout 3". ald_event_actor_token
 * also makes every log line of the thread name the token (log.h, ald_log_token).
 */
void ald_event_actor_token(const char *name); /* NULL or "": as ald_event_actor_clear() */
void ald_event_actor_device(void);
void ald_event_actor_clear(void);
void ald_event_actor_for(const char *type, int64_t rollout_id,
                         char out[ALD_EVENT_ACTOR_MAX + 1]);

/*
 * Has device `name` ever existed: a device of that name now, or events of one? *known says;
 * the events filter answers 404 for a name that never did. Errors: INTERNAL, UNAVAILABLE.
 */
struct ald_result ald_event_device_known(struct ald_store *st, const char *name, bool *known);

/*
 * Is the database answering? On success *schema_version is the schema in use and *backend
 * the store's name ("sqlite"). Errors: UNAVAILABLE "unavailable".
 */
struct ald_result ald_health(struct ald_store *st, int *schema_version, const char **backend);

#endif
