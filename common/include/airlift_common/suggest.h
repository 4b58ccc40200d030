/*
 * airlift_common/suggest.h - "did you mean ...?": the closest of a set of known names to
 * one that was not found (a typo'd device, product or command), for the server's 404
 * answers and the CLI's messages.
 *
 * Distance is the optimal string alignment form of the Damerau-Levenshtein distance: one
 * insertion, deletion, substitution or swap of two neighbouring characters costs 1
 * ("trakcer" -> "tracker" is 1, "truk-1" -> "truck-1" is 1). Comparison is bytewise and
 * case-sensitive, except that a difference of case alone costs 1 like any substitution.
 */
#ifndef AIRLIFT_COMMON_SUGGEST_H
#define AIRLIFT_COMMON_SUGGEST_H

#include <stddef.h>

#define ALC_SUGGEST_LEN_MAX 64 /* longer names are never compared (no suggestion) */

/*
 * The distance between a and b (see above), or (size_t)-1 if either is longer than
 * ALC_SUGGEST_LEN_MAX bytes.
 */
size_t alc_edit_distance(const char *a, const char *b);

/*
 * The most that a name `len` bytes long may differ from a candidate and still be suggested:
 * 1 for names of 1..4 bytes, 2 for 5..8, 3 beyond (a third of the name, at least 1).
 */
size_t alc_suggest_max_distance(size_t len);

/*
 * A running search for the closest candidate to `wanted`: alc_suggest_init(), then
 * alc_suggest_offer() once per candidate, then best is the suggestion (NULL: none close
 * enough). Ties go to the first candidate offered. The candidate strings must outlive the
 * search (best points at one of them); a candidate equal to wanted is never suggested.
 */
struct alc_suggest {
    const char *wanted;
    const char *best; /* the closest candidate so far, or NULL */
    size_t best_distance;
};
void alc_suggest_init(struct alc_suggest *s, const char *wanted);
void alc_suggest_offer(struct alc_suggest *s, const char *candidate);

/* The closest of n candidates to wanted, or NULL (the search above over an array). */
const char *alc_suggest(const char *wanted, const char *const *candidates, size_t n);

#endif
