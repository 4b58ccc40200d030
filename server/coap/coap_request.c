/*
 * coap_request.c - see coap_request.h.
 */
#include "coap_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlift/wire.h"

char ald_coap_transfer_path(const coap_pdu_t *request, uint32_t *plan, uint8_t *step)
{
    char path[64], kind[2] = "";
    unsigned long p = 0, st = 0;
    int used = 0;
    coap_string_t *uri = coap_get_uri_path(request);
    size_t n = uri ? uri->length : 0;
    if (n >= sizeof path)
        n = 0;
    if (n)
        memcpy(path, uri->s, n);
    path[n] = '\0';
    coap_delete_string(uri);
    if (sscanf(path, "%1[fw]/%10lu/%3lu%n", kind, &p, &st, &used) != 3 || (size_t)used != n ||
        p > 0xffffffffUL || st > 255)
        return 0;
    *plan = (uint32_t)p;
    *step = (uint8_t)st;
    return kind[0];
}

bool ald_coap_window_query(const coap_pdu_t *request, struct ald_coap_window *w)
{
    coap_opt_iterator_t it;
    coap_opt_t *q;
    unsigned seen = 0;
    memset(w, 0, sizeof *w);
    coap_option_iterator_init(request, &it, COAP_OPT_ALL);
    while ((q = coap_option_next(&it))) {
        if (it.number != COAP_OPTION_URI_QUERY)
            continue;
        char text[24], *end = NULL;
        size_t n = coap_opt_length(q);
        if (n < 3 || n >= sizeof text)
            return false;
        memcpy(text, coap_opt_value(q), n);
        text[n] = '\0';
        if (text[1] != '=' || !strchr("oncm", text[0]) || text[2] == '-')
            return false;
        unsigned bit = 1u << (strchr("oncm", text[0]) - "oncm");
        unsigned long long v = strtoull(text + 2, &end, text[0] == 'm' ? 16 : 10);
        if (*end || (seen & bit) || v > 0xffffffffULL)
            return false;
        seen |= bit;
        *(text[0] == 'o' ? &w->offset : text[0] == 'n' ? &w->count
                                      : text[0] == 'c' ? &w->chunk : &w->skip) = (uint32_t)v;
    }
    return (seen & 7u) == 7u;
}

bool ald_coap_window_ok(const struct ald_coap_window *w, size_t fit)
{
    return !(w->count == 0 || w->count > AL_WIRE_WINDOW_MAX || w->chunk < AL_WIRE_CHUNK_ALIGN ||
             w->chunk % AL_WIRE_CHUNK_ALIGN || w->chunk > fit ||
             (w->count < 32 && (w->skip >> w->count)) ||
             (w->count <= 32 &&
              w->skip == (w->count == 32 ? 0xffffffffu : (1u << w->count) - 1u)));
}

bool ald_coap_query_identity(const coap_pdu_t *request, char out[ALD_IDENTITY_MAX + 1])
{
    coap_opt_iterator_t it;
    coap_opt_t *q = coap_check_option(request, COAP_OPTION_URI_QUERY, &it);
    size_t len = q ? coap_opt_length(q) : 0;
    if (len > 3 && len - 3 <= ALD_IDENTITY_MAX && !memcmp(coap_opt_value(q), "id=", 3) &&
        !memchr(coap_opt_value(q) + 3, '\0', len - 3)) { /* "id=a%00b" is not device a */
        memcpy(out, coap_opt_value(q) + 3, len - 3);
        out[len - 3] = '\0';
        return true;
    }
    return false;
}
