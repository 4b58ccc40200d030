/*
 * sqldb.c - which SQL driver (sqldb.h) serves a store URL.
 *
 * The PostgreSQL driver (sqldb_pg.c) is linked only when the build defines AIRLIFT_HAVE_PG
 * on airliftd_core; without it a postgresql URL finds no driver and ald_store_open() says
 * that this airliftd was built without PostgreSQL.
 */
#include "sqldb.h"

#include <string.h>

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

const struct ald_sql_driver *ald_sqldb_for_url(const char *url, const char **target)
{
    if (!url)
        return NULL;
    if (has_prefix(url, "sqlite:")) {
        *target = url + strlen("sqlite:");
        return **target ? &ald_sqldb_sqlite : NULL;
    }
    if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
#ifdef AIRLIFT_HAVE_PG
        *target = url;
        return &ald_sqldb_pg;
#else
        return NULL;
#endif
    }
    return NULL;
}
