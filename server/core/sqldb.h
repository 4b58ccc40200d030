/*
 * sqldb.h - the small SQL driver interface under airliftd's store.
 *
 * The store (store_sql.c) holds every query once; a driver runs them on one engine:
 * sqldb_sqlite.c (embedded SQLite, the default) and sqldb_pg.c (PostgreSQL over libpq, for
 * several nodes on one database). The driver knows connections, statements and errors; it
 * knows nothing of devices or updates.
 *
 * SQL the store hands a driver is the common subset of both dialects, with one placeholder
 * style: ?1, ?2, ... (numbered from 1, each number used at least once). The PostgreSQL driver
 * rewrites them to $1, $2 outside string literals. Integers travel as int64, text as UTF-8
 * (NUL-terminated), blobs as bytes (BLOB / BYTEA).
 *
 * Contract:
 *  - A connection (struct ald_sqldb) is used by one thread at a time; the store pools them.
 *  - Every call returns an ald_sql_rc; on anything but OK/ROW/DONE, ald_sql_errmsg() says
 *    what went wrong in words fit for a log line, until the next call on that connection.
 *  - RETRY means the transaction lost a race (SQLite: busy/locked; PostgreSQL: SQLSTATE 40001
 *    serialization_failure or 40P01 deadlock_detected): roll back and run it again.
 *    CONSTRAINT means a unique or foreign key was violated (PostgreSQL class 23). GONE means
 *    the connection is broken (server stopped or unreachable): close it and connect again.
 *  - A statement lives on its connection: prepare, bind, step until DONE, then reset (to run
 *    it again with new bindings) or finalize. Column values are valid until the next step,
 *    reset or finalize of that statement. A driver may cache prepared statements by SQL text;
 *    finalize then returns it to the cache.
 */
#ifndef AIRLIFTD_SQLDB_H
#define AIRLIFTD_SQLDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ald_sql_rc {
    ALD_SQL_OK = 0,
    ALD_SQL_ROW = 1,        /* step: a row is ready */
    ALD_SQL_DONE = 2,       /* step: no more rows (or a statement without rows has run) */
    ALD_SQL_CONSTRAINT = 3, /* a unique, check or foreign key constraint failed */
    ALD_SQL_RETRY = 4,      /* serialization failure, deadlock, busy: run the transaction again */
    ALD_SQL_GONE = 5,       /* the connection is broken or the server unreachable */
    ALD_SQL_ERROR = 6,      /* anything else: bad SQL, out of memory, disk full, ... */
};

struct ald_sqldb;   /* one connection */
struct ald_sqlstmt; /* one prepared statement on a connection */

struct ald_sql_driver {
    const char *name;   /* "sqlite", "postgresql" */

    /*
     * Connect. target: a file path (SQLite; created if missing) or a libpq connection URI
     * ("postgresql://..." or "postgres://..."). On failure returns GONE (unreachable, refused,
     * authentication failed) or ERROR (malformed target, unusable file) with a message in err
     * that names the target without any password.
     */
    enum ald_sql_rc (*connect)(const char *target, struct ald_sqldb **out, char *err,
                               size_t errlen);
    void (*close)(struct ald_sqldb *db); /* finalizes cached statements; NULL is a no-op */

    /* Run SQL without parameters or rows (DDL; BEGIN, COMMIT, ROLLBACK; several statements
     * separated by ';' are allowed). */
    enum ald_sql_rc (*exec)(struct ald_sqldb *db, const char *sql);

    enum ald_sql_rc (*prepare)(struct ald_sqldb *db, const char *sql, struct ald_sqlstmt **out);
    enum ald_sql_rc (*bind_int64)(struct ald_sqlstmt *s, int idx, int64_t v);
    enum ald_sql_rc (*bind_text)(struct ald_sqlstmt *s, int idx, const char *v); /* NULL: NULL */
    enum ald_sql_rc (*bind_blob)(struct ald_sqlstmt *s, int idx, const void *p, size_t n);
    enum ald_sql_rc (*bind_null)(struct ald_sqlstmt *s, int idx);
    enum ald_sql_rc (*step)(struct ald_sqlstmt *s); /* ROW, DONE or an error */
    /* Columns of the current row, numbered from 0. NULL reads as 0, "" or an empty blob. */
    bool (*column_is_null)(struct ald_sqlstmt *s, int col);
    int64_t (*column_int64)(struct ald_sqlstmt *s, int col);
    const char *(*column_text)(struct ald_sqlstmt *s, int col);
    const void *(*column_blob)(struct ald_sqlstmt *s, int col, size_t *len);
    enum ald_sql_rc (*reset)(struct ald_sqlstmt *s); /* clears bindings too */
    void (*finalize)(struct ald_sqlstmt *s);         /* NULL is a no-op */

    /* Rows changed by the last INSERT/UPDATE/DELETE statement on this connection. */
    int64_t (*changes)(struct ald_sqldb *db);
    const char *(*errmsg)(struct ald_sqldb *db);

    /*
     * Notifications between nodes (PostgreSQL LISTEN/NOTIFY). listen: subscribe this
     * connection to channel. wait: block up to timeout_ms for a notification on any listened
     * channel; returns OK (one arrived; its payload, possibly "", copied into payload), DONE
     * (timed out) or GONE. notify: send (delivered at commit when inside a transaction).
     * SQLite (one node) implements them as no-ops: listen OK, wait sleeps and returns DONE.
     */
    enum ald_sql_rc (*listen)(struct ald_sqldb *db, const char *channel);
    enum ald_sql_rc (*wait)(struct ald_sqldb *db, unsigned timeout_ms, char *payload,
                            size_t cap);
    enum ald_sql_rc (*notify)(struct ald_sqldb *db, const char *channel, const char *payload);
};

extern const struct ald_sql_driver ald_sqldb_sqlite;
extern const struct ald_sql_driver ald_sqldb_pg;

/* The driver for a store URL ("sqlite:PATH", "postgresql://...", "postgres://..."), with the
 * target to pass to connect (PATH, or the URL itself) in *target; NULL if no driver takes
 * it. */
const struct ald_sql_driver *ald_sqldb_for_url(const char *url, const char **target);

#endif
