/*
 * parse.c - the request-parsing helpers the handlers share (see http_priv.h).
 */
#include <stdio.h>
#include <string.h>

#include "devices.h"
#include "http_priv.h"
#include "airlift_common/parse.h"
#include "airlift_common/platform.h"
#include "reply.h"

/* text for a message: bytes outside printable ASCII as \xNN, so the message stays valid
 * UTF-8 whatever the body held (jansson quotes the raw bytes near an error). */
static void printable(const char *text, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && o + 5 <= cap; p++) {
        if (*p >= 0x20 && *p < 0x7f)
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
    }
    out[o] = '\0';
}

size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) /* s[n] continues a character */
        n--;
    return n;
}

struct ald_result body_object(const uint8_t *body, size_t len, json_t **out)
{
    json_error_t jerr;
    json_t *doc;
    size_t blank = 0;
    *out = NULL;
    while (blank < len && strchr(" \t\r\n", body[blank]) && body[blank])
        blank++;
    if (blank == len) /* jansson would say "line -1, column -1: wrong arguments" */
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_json",
                        "the body is empty: expected a JSON object");
    doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        char text[4 * JSON_ERROR_TEXT_LENGTH + 1];
        printable(jerr.text, text, sizeof text);
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_json",
                        "request body is not valid JSON (line %d, column %d): %s", jerr.line,
                        jerr.column, text);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_json", "request body must be a JSON object");
    }
    *out = doc;
    return ald_ok();
}

struct ald_result body_fields(json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(key, *a))
                known = true;
        if (!known)
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "unknown field '%.*s'",
                            (int)utf8_cut(key, 64), key);
    }
    return ald_ok();
}

struct ald_result body_string(json_t *obj, const char *field, size_t max, const char **out)
{
    json_t *v = json_object_get(obj, field);
    *out = NULL;
    if (!v)
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "missing field '%s'", field);
    if (!json_is_string(v))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "field '%s' must be a string", field);
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request",
                        "field '%s' must be at most %zu bytes, without NUL", field, max);
    *out = json_string_value(v);
    return ald_ok();
}

json_t *parse_body(struct MHD_Connection *c, struct req *r, enum MHD_Result *ret)
{
    json_t *doc;
    struct ald_result res = body_object(r->body, r->len, &doc);
    if (!ald_is_ok(&res))
        *ret = reply_result(c, r, &res);
    return doc;
}

bool only_fields(struct MHD_Connection *c, struct req *r, json_t *obj,
                 const char *const *allowed, enum MHD_Result *ret)
{
    struct ald_result res = body_fields(obj, allowed);
    if (!ald_is_ok(&res))
        *ret = reply_result(c, r, &res);
    return ald_is_ok(&res);
}

const char *string_field(struct MHD_Connection *c, struct req *r, json_t *obj,
                         const char *field, size_t max, enum MHD_Result *ret)
{
    const char *s;
    struct ald_result res = body_string(obj, field, max, &s);
    if (!ald_is_ok(&res))
        *ret = reply_result(c, r, &res);
    return s;
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
