/*
 * escape.c - the one place where text that devices and users wrote (names, release notes,
 * revert reasons, event data, server messages quoting them) is made safe for a terminal:
 * every control character is shown as \xNN instead of being sent to it. See cli.h.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Is the code point a control character: C0, DEL or C1? */
static bool is_control(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

size_t cli_escape(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t need = 0, n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        unsigned cp = *p;
        if (cp == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 in UTF-8: U+0080..U+009F */
            cp = *++p;
        if (is_control(cp)) {
            char e[4] = {'\\', 'x', hex[cp >> 4], hex[cp & 15]};
            for (int i = 0; i < 4; i++, need++)
                if (out && n + 1 < cap)
                    out[n++] = e[i];
        } else {
            need++;
            if (out && n + 1 < cap)
                out[n++] = (char)*p;
        }
    }
    if (out && cap)
        out[n] = '\0';
    return need;
}

/* Does s hold a control character? */
static bool needs_escape(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (is_control(*p) || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return true;
    return false;
}

void cli_json_escape_strings(json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        /* A string with a NUL inside is shown up to it, escaped like the rest. */
        if (!needs_escape(s) && strlen(s) == json_string_length(v))
            return;
        size_t n = cli_escape(s, NULL, 0) + 1;
        char *e = malloc(n);
        if (!e) {
            json_string_set(v, "?");
            return;
        }
        cli_escape(s, e, n);
        json_string_set(v, e);
        free(e);
    } else if (json_is_object(v)) {
        const char *key;
        json_t *value;
        json_object_foreach(v, key, value)
            cli_json_escape_strings(value);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *value;
        json_array_foreach(v, i, value)
            cli_json_escape_strings(value);
    }
}
