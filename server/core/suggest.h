/*
 * suggest.h - "did you mean": the closest existing name to one that was not found, for the
 * management API's 404 answers (docs/api.md, "Errors").
 *
 * A not-found result whose message starts `KIND 'NAME' does not exist` (the form every core
 * service uses, e.g. "product 'trakcer' does not exist") names what is missing; for the
 * kinds below the HTTP layer asks ald_suggest_missing() for the closest existing name and
 * adds it to the answer (airlift_common/suggest.h measures "closest").
 */
#ifndef AIRLIFTD_SUGGEST_H
#define AIRLIFTD_SUGGEST_H

#include <stdbool.h>

#include "store.h"

#define ALD_SUGGEST_KIND_MAX 15

/*
 * Split a not-found message of the form above into its kind and name: true if msg starts
 * with one of "device", "product", "group", "channel", then " '", a valid name, and "' does
 * not exist".
 */
bool ald_missing_parse(const char *msg, char kind[ALD_SUGGEST_KIND_MAX + 1],
                       char name[ALD_NAME_MAX + 1]);

/*
 * The existing name of `kind` ("device", "product", "group", "channel") closest to name,
 * into out: true if one is close enough (alc_suggest_max_distance()). Devices and products
 * by name; groups and channels among those the devices have. A store failure: false.
 */
bool ald_suggest_name(struct ald_store *st, const char *kind, const char *name,
                      char out[ALD_NAME_MAX + 1]);

/* Both: the suggestion for a not-found message, into out; false if there is none. */
bool ald_suggest_missing(struct ald_store *st, const char *msg, char out[ALD_NAME_MAX + 1]);

#endif
