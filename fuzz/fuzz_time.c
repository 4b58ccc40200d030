/*
 * fuzz_time.c - libFuzzer harness for the time and month parsers the API and the CLI take
 * from users (common/timeparse.c: `since`, `until`, `month`) and the "did you mean" distance
 * (common/suggest.c): any bytes give an answer, never a crash or an out-of-bounds read.
 * The input is copied into a buffer of exactly its length plus the NUL, so that the
 * sanitizers see any read past the string's end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlift_common/suggest.h"
#include "airlift_common/timeparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    int64_t t = 0;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (alc_parse_time(s, INT64_C(1764547200000), &t) && t > INT64_C(253402300800000))
        abort(); /* after 9999 */
    (void)alc_month_valid(s);
    const char *candidates[] = {"tracker", "truck-1"};
    (void)alc_suggest(s, candidates, 2);
    (void)alc_edit_distance(s, "2026-11-24T21:00:00Z");
    free(s);
    return 0;
}
