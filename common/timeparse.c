/*
 * timeparse.c - see airlift_common/timeparse.h.
 */
#include "airlift_common/timeparse.h"

#include <stddef.h>
#include <string.h>

int64_t alc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n decimal digits at s into *out; false if any is not a digit. */
static bool digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool relative(const char *s, int64_t now_ms, int64_t *out_ms)
{
    int64_t n = 0, unit;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (i == 9)
            return false;
        n = n * 10 + (s[i] - '0');
    }
    if (i == 0 || s[i] == '\0' || s[i + 1] != '\0') /* digits, then one unit letter */
        return false;
    switch (s[i]) {
    case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000; break;
    case 'h': unit = 3600 * 1000; break;
    case 'd': unit = 86400 * 1000LL; break;
    case 'w': unit = 7 * 86400 * 1000LL; break;
    default: return false;
    }
    *out_ms = now_ms - n * unit;
    return true;
}

bool alc_parse_time(const char *s, int64_t now_ms, int64_t *out_ms)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, oh, om;
    int64_t offset_min = 0;
    const char *p;

    if (!s || !*s)
        return false;
    if (!(digits(s, 4, &y) && s[4] == '-'))
        return relative(s, now_ms, out_ms);
    if (!digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d))
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && leap(y) ? 1u : 0u))
        return false;
    p = s + 10;
    if (*p != '\0') {
        if ((*p != 'T' && *p != 't') || !digits(p + 1, 2, &h) || p[3] != ':' ||
            !digits(p + 4, 2, &mi) || p[6] != ':' || !digits(p + 7, 2, &sec))
            return false;
        if (h > 23 || mi > 59 || sec > 60) /* 60: a leap second, taken as the next one */
            return false;
        p += 9;
        if (*p == '.') {
            int n = 0;
            unsigned scale = 100;
            for (p++; *p >= '0' && *p <= '9'; p++, n++) {
                if (n == 9)
                    return false;
                ms += (unsigned)(*p - '0') * scale;
                scale /= 10;
            }
            if (n == 0)
                return false;
        }
        if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
            offset_min = 0;
        } else if ((*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' &&
                   digits(p + 4, 2, &om) && p[6] == '\0' && oh <= 23 && om <= 59) {
            offset_min = (int64_t)(oh * 60 + om) * (*p == '+' ? 1 : -1);
        } else {
            return false;
        }
    }
    int64_t t = ((alc_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
    t -= offset_min * 60;
    if (t < 0)
        return false;
    *out_ms = t * 1000 + ms;
    return true;
}

bool alc_month_valid(const char *s)
{
    if (strlen(s) != 7 || s[4] != '-')
        return false;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return false;
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    return year >= 1970 && month >= 1 && month <= 12;
}
