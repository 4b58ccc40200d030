/*
 * suggest.c - see airlift_common/suggest.h.
 */
#include "airlift_common/suggest.h"

#include <string.h>

size_t alc_edit_distance(const char *a, const char *b)
{
    /* Three rows of the (n+1) x (m+1) matrix: two back (for swaps), one back, this one. */
    size_t rows[3][ALC_SUGGEST_LEN_MAX + 1];
    size_t n = strlen(a), m = strlen(b);
    if (n > ALC_SUGGEST_LEN_MAX || m > ALC_SUGGEST_LEN_MAX)
        return (size_t)-1;
    for (size_t j = 0; j <= m; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        /* Row k of the matrix lives in rows[k % 3]. */
        size_t *two = rows[(i + 1) % 3], *one = rows[(i + 2) % 3], *cur = rows[i % 3];
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = one[j] + 1;              /* deletion */
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;             /* insertion */
            if (one[j - 1] + cost < best)
                best = one[j - 1] + cost;          /* substitution */
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                two[j - 2] + 1 < best)
                best = two[j - 2] + 1;             /* swap of neighbours */
            cur[j] = best;
        }
    }
    return rows[n % 3][m];
}

size_t alc_suggest_max_distance(size_t len)
{
    return len <= 4 ? 1 : len <= 8 ? 2 : 3;
}

void alc_suggest_init(struct alc_suggest *s, const char *wanted)
{
    s->wanted = wanted;
    s->best = NULL;
    s->best_distance = alc_suggest_max_distance(strlen(wanted)) + 1;
}

void alc_suggest_offer(struct alc_suggest *s, const char *candidate)
{
    size_t d;
    if (!candidate || !strcmp(candidate, s->wanted))
        return;
    d = alc_edit_distance(s->wanted, candidate);
    if (d < s->best_distance) {
        s->best = candidate;
        s->best_distance = d;
    }
}

const char *alc_suggest(const char *wanted, const char *const *candidates, size_t n)
{
    struct alc_suggest s;
    alc_suggest_init(&s, wanted);
    for (size_t i = 0; i < n; i++)
        alc_suggest_offer(&s, candidates[i]);
    return s.best;
}
