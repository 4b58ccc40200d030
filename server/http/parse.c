/*
 * parse.c - the request-parsing helpers the handlers share (see http_priv.h).
 */
#include <string.h>

#include "devices.h"
#include "http_priv.h"
#include "airlift_common/parse.h"
#include "airlift_common/platform.h"
#include "reply.h"

json_t *parse_body(struct MHD_Connection *c, struct req *r, enum MHD_Result *ret)
{
    json_error_t jerr;
    json_t *doc;
    size_t blank = 0;
    while (blank < r->len && strchr(" \t\r\n", r->body[blank]) && r->body[blank])
        blank++;
    if (blank == r->len) {
        /* jansson would say "line -1, column -1: wrong arguments" */
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_json",
                           "the body is empty: expected a JSON object");
        return NULL;
    }
    doc = json_loadb((const char *)r->body, r->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_json",
                           "request body is not valid JSON (line %d, column %d): %s", jerr.line,
                           jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_json",
                           "request body must be a JSON object");
        return NULL;
    }
    return doc;
}

bool only_fields(struct MHD_Connection *c, struct req *r, json_t *obj,
                 const char *const *allowed, enum MHD_Result *ret)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(key, *a))
                known = true;
        if (!known) {
            *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "unknown field '%.64s'",
                               key);
            return false;
        }
    }
    return true;
}

const char *string_field(struct MHD_Connection *c, struct req *r, json_t *obj,
                         const char *field, size_t max, enum MHD_Result *ret)
{
    json_t *v = json_object_get(obj, field);
    if (!v) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request", "missing field '%s'", field);
        return NULL;
    }
    if (!json_is_string(v)) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "field '%s' must be a string", field);
        return NULL;
    }
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        *ret = reply_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_request",
                           "field '%s' must be at most %zu bytes, without NUL", field, max);
        return NULL;
    }
    return json_string_value(v);
}

bool parse_id(const char *s, int64_t *out)
{
    return alc_parse_id(s, false, out);
}

bool platform_value(json_t *v, uint16_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= ALC_PLATFORM_ID_MAX) {
        *out = (uint16_t)json_integer_value(v);
        return true;
    }
    return json_is_string(v) && alc_platform_by_name(json_string_value(v), out);
}
