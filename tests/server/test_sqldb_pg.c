/*
 * test_sqldb_pg.c - the PostgreSQL driver (server/core/sqldb_pg.c) against a real server:
 * the throwaway cluster of tests/pg (ctest fixture "pg"; its URL in AIRLIFT_PG_DIR/url).
 * Skips (77) when that cluster is not there. Tables are named tpg_* and made afresh by each
 * test, in the cluster's database airlift.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "sqldb.h"

static const struct ald_sql_driver *const D = &ald_sqldb_pg;
static char g_url[1024];

static struct ald_sqldb *conn(void)
{
    struct ald_sqldb *db = NULL;
    char err[512] = "";
    enum ald_sql_rc rc = D->connect(g_url, &db, err, sizeof err);
    if (rc != ALD_SQL_OK)
        fail_msg("connect %s: %d %s", g_url, rc, err);
    assert_non_null(db);
    return db;
}

static void exec_ok(struct ald_sqldb *db, const char *sql)
{
    enum ald_sql_rc rc = D->exec(db, sql);
    if (rc != ALD_SQL_OK)
        fail_msg("exec %s: %d %s", sql, rc, D->errmsg(db));
}

static struct ald_sqlstmt *prep(struct ald_sqldb *db, const char *sql)
{
    struct ald_sqlstmt *s = NULL;
    enum ald_sql_rc rc = D->prepare(db, sql, &s);
    if (rc != ALD_SQL_OK)
        fail_msg("prepare %s: %d %s", sql, rc, D->errmsg(db));
    return s;
}

/* The first column of the one row sql returns, as an integer. */
static int64_t query_int(struct ald_sqldb *db, const char *sql)
{
    struct ald_sqlstmt *s = prep(db, sql);
    int64_t v;
    enum ald_sql_rc rc = D->step(s);
    if (rc != ALD_SQL_ROW)
        fail_msg("step %s: %d %s", sql, rc, D->errmsg(db));
    v = D->column_int64(s, 0);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    D->finalize(s);
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void no_secret(const char *msg, const char *secret)
{
    if (strstr(msg, secret))
        fail_msg("message shows the password: %s", msg);
}

static void test_connect(void **state)
{
    struct ald_sqldb *db = conn();
    struct ald_sqlstmt *s = prep(db, "SELECT current_setting('application_name')");
    (void)state;
    assert_string_equal(D->name, "postgresql");
    assert_int_equal(D->step(s), ALD_SQL_ROW);
    assert_string_equal(D->column_text(s, 0), "airliftd");
    D->finalize(s);
    assert_int_equal(query_int(db, "SELECT 41 + 1"), 42);
    D->close(db);
    D->close(NULL);
    D->finalize(NULL);
}

static void test_bad_url(void **state)
{
    struct ald_sqldb *db = (struct ald_sqldb *)1;
    char err[512];
    (void)state;
    assert_int_equal(D->connect("mysql://localhost/x", &db, err, sizeof err), ALD_SQL_ERROR);
    assert_null(db);
    assert_non_null(strstr(err, "postgresql://"));
    assert_int_equal(D->connect("postgresql://%zz@/db", &db, err, sizeof err), ALD_SQL_ERROR);
    assert_non_null(strstr(err, "malformed URL"));
    assert_non_null(strstr(err, "%zz")); /* libpq's reason, when there is no password */
    assert_int_equal(D->connect("postgresql://u:s3cret%zz@/db", &db, err, sizeof err),
                     ALD_SQL_ERROR);
    assert_non_null(strstr(err, "malformed URL"));
    no_secret(err, "s3cret");
    assert_int_equal(D->connect("postgresql:///db?bogus=1", &db, err, sizeof err), ALD_SQL_ERROR);
    assert_non_null(strstr(err, "bogus"));
}

static void test_unreachable(void **state)
{
    char dir[128], url[512], err[512];
    struct ald_sqldb *db = NULL;
    (void)state;
    snprintf(dir, sizeof dir, "%s/ald-nopg.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "postgresql://alice:hunter2@/nodb?host=%s", dir);
    assert_int_equal(D->connect(url, &db, err, sizeof err), ALD_SQL_GONE);
    assert_null(db);
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "dbname=nodb"));
    assert_non_null(strstr(err, "user=alice"));
    no_secret(err, "hunter2");
    snprintf(url, sizeof url, "postgres:///nodb?host=%s&port=5999&password=hunter2", dir);
    assert_int_equal(D->connect(url, &db, err, sizeof err), ALD_SQL_GONE);
    assert_non_null(strstr(err, "port=5999"));
    no_secret(err, "hunter2");
    rmdir(dir);
}

/* DDL in one exec; every bind and column type, NULLs, extremes, blobs with NUL bytes and
 * large values. */
static void test_types(void **state)
{
    struct ald_sqldb *db = conn();
    struct ald_sqlstmt *s;
    const size_t big = 3u << 20;
    unsigned char *blob = malloc(big), nul_blob[5] = {0, 'a', 0, 0xff, 0};
    char *text = malloc(300001);
    const void *p;
    size_t len;
    (void)state;
    assert_non_null(blob);
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        blob[i] = (unsigned char)(i * 2654435761u >> 13);
    for (size_t i = 0; i < 300000; i++)
        text[i] = (char)('a' + i % 26);
    text[300000] = '\0';

    exec_ok(db, "DROP TABLE IF EXISTS tpg_types; "
                "CREATE TABLE tpg_types (id BIGINT PRIMARY KEY, n BIGINT, t TEXT, b BYTEA); "
                "CREATE INDEX tpg_types_n ON tpg_types (n)");
    s = prep(db, "INSERT INTO tpg_types (id, n, t, b) VALUES (?1, ?2, ?3, ?4)");
    /* 1: extremes and text with UTF-8; 2: NULLs everywhere; 3: empty values; 4: NUL bytes;
     * 5: large values. */
    assert_int_equal(D->bind_int64(s, 1, 1), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 2, INT64_MIN), ALD_SQL_OK);
    assert_int_equal(D->bind_text(s, 3, "h\xc3\xa9llo \xe2\x9c\x93 'quoted' \\ ?1"), ALD_SQL_OK);
    assert_int_equal(D->bind_blob(s, 4, "\x01\x02", 2), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    assert_int_equal(D->changes(db), 1);
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 1, 2), ALD_SQL_OK);
    assert_int_equal(D->bind_null(s, 2), ALD_SQL_OK);
    assert_int_equal(D->bind_text(s, 3, NULL), ALD_SQL_OK);
    assert_int_equal(D->bind_null(s, 4), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 1, 3), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 2, INT64_MAX), ALD_SQL_OK);
    assert_int_equal(D->bind_text(s, 3, ""), ALD_SQL_OK);
    assert_int_equal(D->bind_blob(s, 4, NULL, 0), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 1, 4), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 2, -1), ALD_SQL_OK);
    assert_int_equal(D->bind_text(s, 3, "x"), ALD_SQL_OK);
    assert_int_equal(D->bind_blob(s, 4, nul_blob, sizeof nul_blob), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 1, 5), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 2, 0), ALD_SQL_OK);
    assert_int_equal(D->bind_text(s, 3, text), ALD_SQL_OK);
    assert_int_equal(D->bind_blob(s, 4, blob, big), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    D->finalize(s);

    s = prep(db, "SELECT id, n, t, b, octet_length(b), n IS NULL FROM tpg_types ORDER BY id");
    assert_int_equal(D->step(s), ALD_SQL_ROW);
    assert_int_equal(D->column_int64(s, 0), 1);
    assert_true(D->column_int64(s, 1) == INT64_MIN);
    assert_string_equal(D->column_text(s, 2), "h\xc3\xa9llo \xe2\x9c\x93 'quoted' \\ ?1");
    p = D->column_blob(s, 3, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "\x01\x02", 2);
    assert_false(D->column_is_null(s, 3));
    assert_int_equal(D->column_int64(s, 5), 0); /* boolean false */

    assert_int_equal(D->step(s), ALD_SQL_ROW); /* NULLs read as 0, "" and an empty blob */
    assert_int_equal(D->column_int64(s, 0), 2);
    assert_true(D->column_is_null(s, 1));
    assert_true(D->column_is_null(s, 2));
    assert_true(D->column_is_null(s, 3));
    assert_int_equal(D->column_int64(s, 1), 0);
    assert_string_equal(D->column_text(s, 2), "");
    p = D->column_blob(s, 3, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_int_equal(D->column_int64(s, 5), 1); /* boolean true */

    assert_int_equal(D->step(s), ALD_SQL_ROW); /* empty, not NULL */
    assert_true(D->column_int64(s, 1) == INT64_MAX);
    assert_false(D->column_is_null(s, 2));
    assert_false(D->column_is_null(s, 3));
    assert_string_equal(D->column_text(s, 2), "");
    D->column_blob(s, 3, &len);
    assert_int_equal(len, 0);
    assert_int_equal(D->column_int64(s, 4), 0);

    assert_int_equal(D->step(s), ALD_SQL_ROW); /* NUL bytes */
    assert_int_equal(D->column_int64(s, 1), -1);
    p = D->column_blob(s, 3, &len);
    assert_int_equal(len, sizeof nul_blob);
    assert_memory_equal(p, nul_blob, sizeof nul_blob);
    assert_int_equal(D->column_int64(s, 4), sizeof nul_blob);

    assert_int_equal(D->step(s), ALD_SQL_ROW); /* large */
    assert_string_equal(D->column_text(s, 2), text);
    p = D->column_blob(s, 3, &len);
    assert_int_equal(len, big);
    assert_memory_equal(p, blob, big);
    assert_true(D->column_int64(s, 4) == (int64_t)big);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    /* Out of range columns read as NULL. */
    assert_true(D->column_is_null(s, 0));
    D->finalize(s);

    /* A blob column read as text is its hex form; a text column read as a blob, its bytes. */
    s = prep(db, "SELECT b, t FROM tpg_types WHERE id = ?1");
    assert_int_equal(D->bind_int64(s, 1, 4), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_ROW);
    assert_string_equal(D->column_text(s, 0), "\\x006100ff00");
    p = D->column_blob(s, 1, &len);
    assert_int_equal(len, 1);
    assert_memory_equal(p, "x", 1);
    D->finalize(s);

    exec_ok(db, "DROP TABLE tpg_types");
    D->close(db);
    free(blob);
    free(text);
}

/* ?N inside strings, identifiers, dollar quotes and comments is not a placeholder. */
static void test_placeholders(void **state)
{
    struct ald_sqldb *db = conn();
    struct ald_sqlstmt *s;
    (void)state;
    s = prep(db, "SELECT ?1::text || '?2' || 'it''s ?3' || E'a\\'?4' || $$?5$$ || $q$ ?6 $q$ "
                 "AS \"col ?7\", -- ?8 \n"
                 " /* ?9 /* nested ?10 */ ?11 */ ?1::text || '?' AS two");
    assert_int_equal(D->bind_text(s, 2, "x"), ALD_SQL_ERROR); /* only ?1 is a parameter */
    assert_non_null(strstr(D->errmsg(db), "?2"));
    assert_int_equal(D->bind_text(s, 1, "x"), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_ROW);
    assert_string_equal(D->column_text(s, 0), "x?2it's ?3a'?4?5 ?6 ");
    assert_string_equal(D->column_text(s, 1), "x?");
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    /* Binding a statement that has run needs a reset first. */
    assert_int_equal(D->bind_text(s, 1, "y"), ALD_SQL_ERROR);
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    /* reset clears the bindings: ?1 is NULL now. */
    assert_int_equal(D->step(s), ALD_SQL_ROW);
    assert_true(D->column_is_null(s, 0));
    D->finalize(s);

    /* A placeholder used twice, numbered out of order. Parameter types are the server's
     * inference from context; where there is none, a CAST (valid in SQLite too) gives it. */
    assert_int_equal(D->prepare(db, "SELECT ?2 + ?1", &s), ALD_SQL_ERROR);
    s = prep(db, "SELECT CAST(?2 AS BIGINT) + ?1 + ?2");
    assert_int_equal(D->bind_int64(s, 1, 1), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 2, 10), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_ROW);
    assert_int_equal(D->column_int64(s, 0), 21);
    D->finalize(s);

    assert_int_equal(D->prepare(db, "SELECT ?0", &s), ALD_SQL_ERROR);
    assert_null(s);
    assert_non_null(strstr(D->errmsg(db), "?0"));
    D->close(db);
}

static void test_errors(void **state)
{
    struct ald_sqldb *db = conn();
    struct ald_sqlstmt *s = NULL;
    (void)state;
    assert_int_equal(D->prepare(db, "SELEKT 1", &s), ALD_SQL_ERROR);
    assert_null(s);
    assert_non_null(strstr(D->errmsg(db), "syntax error"));
    assert_non_null(strstr(D->errmsg(db), "42601"));
    assert_non_null(strstr(D->errmsg(db), "`SELEKT 1`")); /* names the statement */
    assert_int_equal(D->exec(db, "SELECT * FROM tpg_no_such_table"), ALD_SQL_ERROR);
    assert_non_null(strstr(D->errmsg(db), "tpg_no_such_table"));

    /* A failed step stays failed until reset. */
    s = prep(db, "SELECT 1 / ?1");
    assert_int_equal(D->bind_int64(s, 1, 0), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_ERROR);
    assert_non_null(strstr(D->errmsg(db), "division by zero"));
    assert_int_equal(D->step(s), ALD_SQL_ERROR);
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 1, 1), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_ROW);
    D->finalize(s);

    /* A failed transaction refuses everything until ROLLBACK; statements prepared in a
     * rolled-back transaction stay usable. */
    exec_ok(db, "BEGIN");
    s = prep(db, "SELECT 7");
    assert_int_equal(D->exec(db, "SELECT 1 / 0"), ALD_SQL_ERROR);
    assert_int_equal(D->step(s), ALD_SQL_ERROR);
    assert_non_null(strstr(D->errmsg(db), "25P02"));
    exec_ok(db, "ROLLBACK");
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_ROW);
    assert_int_equal(D->column_int64(s, 0), 7);
    D->finalize(s);

    /* SQLSTATE mapping, from errors raised on purpose. */
    assert_int_equal(D->exec(db, "DO $$ BEGIN RAISE EXCEPTION 'dl' USING ERRCODE = '40P01'; END $$"),
                     ALD_SQL_RETRY);
    assert_int_equal(D->exec(db, "DO $$ BEGIN RAISE EXCEPTION 'fk' USING ERRCODE = '23503'; END $$"),
                     ALD_SQL_CONSTRAINT);
    assert_int_equal(D->exec(db, "DO $$ BEGIN RAISE EXCEPTION 'cx' USING ERRCODE = '08006'; END $$"),
                     ALD_SQL_GONE);
    assert_int_equal(D->exec(db, "DO $$ BEGIN RAISE EXCEPTION 'sd' USING ERRCODE = '57P01'; END $$"),
                     ALD_SQL_GONE);
    assert_int_equal(D->exec(db, "DO $$ BEGIN RAISE EXCEPTION 'xx' USING ERRCODE = '22012'; END $$"),
                     ALD_SQL_ERROR);
    assert_int_equal(query_int(db, "SELECT 1"), 1); /* still connected */
    D->close(db);
}

static void test_constraint(void **state)
{
    struct ald_sqldb *db = conn();
    struct ald_sqlstmt *s;
    (void)state;
    exec_ok(db, "DROP TABLE IF EXISTS tpg_child; DROP TABLE IF EXISTS tpg_uniq; "
                "CREATE TABLE tpg_uniq (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE); "
                "CREATE TABLE tpg_child (id BIGINT REFERENCES tpg_uniq (id))");
    s = prep(db, "INSERT INTO tpg_uniq (name) VALUES (?1) RETURNING id");
    assert_int_equal(D->bind_text(s, 1, "a"), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_ROW);
    assert_int_equal(D->column_int64(s, 0), 1);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    assert_int_equal(D->changes(db), 1);
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    assert_int_equal(D->bind_text(s, 1, "a"), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_CONSTRAINT);
    assert_non_null(strstr(D->errmsg(db), "23505"));
    assert_non_null(strstr(D->errmsg(db), "tpg_uniq_name_key"));
    assert_null(strstr(D->errmsg(db), "(name)=(a)")); /* no DETAIL: it quotes values */
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    assert_int_equal(D->bind_null(s, 1), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_CONSTRAINT); /* NOT NULL: 23502 */
    D->finalize(s);
    assert_int_equal(D->exec(db, "INSERT INTO tpg_child VALUES (99)"), ALD_SQL_CONSTRAINT);
    exec_ok(db, "DROP TABLE tpg_child; DROP TABLE tpg_uniq");
    D->close(db);
}

/* A real serialization failure: two REPEATABLE READ transactions update the same row. */
static void test_retry(void **state)
{
    struct ald_sqldb *a = conn(), *b = conn();
    struct ald_sqlstmt *s;
    (void)state;
    exec_ok(a, "DROP TABLE IF EXISTS tpg_acct; CREATE TABLE tpg_acct (id INT PRIMARY KEY, v BIGINT);"
               "INSERT INTO tpg_acct VALUES (1, 100)");
    exec_ok(a, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    assert_int_equal(query_int(a, "SELECT v FROM tpg_acct WHERE id = 1"), 100); /* snapshot */
    exec_ok(b, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    exec_ok(b, "UPDATE tpg_acct SET v = v + 1 WHERE id = 1");
    exec_ok(b, "COMMIT");
    s = prep(a, "UPDATE tpg_acct SET v = v + ?1 WHERE id = 1");
    assert_int_equal(D->bind_int64(s, 1, 10), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_RETRY);
    assert_non_null(strstr(D->errmsg(a), "40001"));
    exec_ok(a, "ROLLBACK");
    /* Run again, it goes through. */
    exec_ok(a, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    assert_int_equal(D->reset(s), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s, 1, 10), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    exec_ok(a, "COMMIT");
    D->finalize(s);
    assert_int_equal(query_int(b, "SELECT v FROM tpg_acct WHERE id = 1"), 111);
    exec_ok(a, "DROP TABLE tpg_acct");
    D->close(a);
    D->close(b);
}

struct blocked {
    struct ald_sqldb *db;
    const char *sql;
    enum ald_sql_rc rc;
};

static void *run_blocked(void *arg)
{
    struct blocked *b = arg;
    b->rc = D->exec(b->db, b->sql); /* no cmocka asserts off the main thread */
    return NULL;
}

/* A real deadlock: two transactions each wait for the row the other holds; the server
 * (deadlock_timeout, 1 s) aborts one of them with 40P01, which is RETRY. */
static void test_deadlock(void **state)
{
    struct ald_sqldb *a = conn(), *b = conn();
    struct blocked t = {a, "UPDATE tpg_dl SET v = v + 1 WHERE id = 2", ALD_SQL_OK};
    pthread_t th;
    enum ald_sql_rc rb;
    (void)state;
    exec_ok(a, "DROP TABLE IF EXISTS tpg_dl; CREATE TABLE tpg_dl (id INT PRIMARY KEY, v INT);"
               "INSERT INTO tpg_dl VALUES (1, 0), (2, 0)");
    exec_ok(a, "BEGIN");
    exec_ok(a, "UPDATE tpg_dl SET v = v + 1 WHERE id = 1");
    exec_ok(b, "BEGIN");
    exec_ok(b, "UPDATE tpg_dl SET v = v + 1 WHERE id = 2");
    assert_int_equal(pthread_create(&th, NULL, run_blocked, &t), 0);
    sleep_ms(200); /* a now waits for b's row 2 */
    rb = D->exec(b, "UPDATE tpg_dl SET v = v + 1 WHERE id = 1");
    if (rb == ALD_SQL_RETRY) {
        assert_non_null(strstr(D->errmsg(b), "40P01"));
        exec_ok(b, "ROLLBACK"); /* frees a */
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(t.rc, ALD_SQL_OK);
        exec_ok(a, "COMMIT");
    } else {
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(t.rc, ALD_SQL_RETRY);
        assert_non_null(strstr(D->errmsg(a), "40P01"));
        assert_int_equal(rb, ALD_SQL_OK);
        exec_ok(a, "ROLLBACK");
        exec_ok(b, "COMMIT");
    }
    assert_int_equal(query_int(a, "SELECT sum(v) FROM tpg_dl"), 2);
    exec_ok(a, "DROP TABLE tpg_dl");
    D->close(a);
    D->close(b);
}

/* The backend is terminated under a connection: every later call is GONE. */
static void test_gone_terminated(void **state)
{
    struct ald_sqldb *a = conn(), *b = conn();
    struct ald_sqlstmt *s, *cached;
    char sql[128], payload[16];
    int64_t pid = query_int(a, "SELECT pg_backend_pid()");
    (void)state;
    s = prep(a, "SELECT 5");
    D->finalize(s);
    assert_int_equal(D->listen(a, "tpg_gone"), ALD_SQL_OK);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", (long long)pid);
    assert_int_equal(query_int(b, sql), 1);
    sleep_ms(100);
    assert_int_equal(D->wait(a, 1000, payload, sizeof payload), ALD_SQL_GONE);
    assert_int_equal(D->prepare(a, "SELECT 5", &cached), ALD_SQL_OK); /* from the cache */
    assert_int_equal(D->step(cached), ALD_SQL_GONE);
    assert_true(D->errmsg(a)[0] != '\0');
    D->finalize(cached);
    assert_int_equal(D->exec(a, "SELECT 1"), ALD_SQL_GONE);
    assert_int_equal(D->prepare(a, "SELECT 6", &s), ALD_SQL_GONE);
    assert_int_equal(D->notify(a, "tpg_gone", "x"), ALD_SQL_GONE);
    D->close(a);
    D->close(b);
}

/* A cluster of its own, stopped under a connection. */
static void test_gone_stopped(void **state)
{
    const char *script = getenv("AIRLIFT_PG_CLUSTER");
    char dir[128], cmd[512], url[512], err[512];
    struct ald_sqldb *db = NULL;
    FILE *f;
    (void)state;
    if (!script)
        script = AIRLIFT_PG_CLUSTER;
    snprintf(dir, sizeof dir, "%s/ald-pg.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "bash '%s' start '%s' >/dev/null", script, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/url", dir);
    f = fopen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(url, sizeof url, f));
    fclose(f);
    url[strcspn(url, "\n")] = '\0';
    assert_int_equal(D->connect(url, &db, err, sizeof err), ALD_SQL_OK);
    assert_int_equal(query_int(db, "SELECT 3"), 3);
    snprintf(cmd, sizeof cmd, "bash '%s' stop '%s'", script, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(D->exec(db, "SELECT 1"), ALD_SQL_GONE);
    D->close(db);
    db = NULL;
    assert_int_equal(D->connect(url, &db, err, sizeof err), ALD_SQL_GONE);
    assert_non_null(strstr(err, "/tmp/airlift-pg-")); /* names the socket's folder */
    snprintf(cmd, sizeof cmd, "rm -rf \"$(readlink '%s/home')\" '%s'", dir, dir);
    assert_int_equal(system(cmd), 0);
}

/* Statements are prepared once per connection and SQL text. */
static void test_cache(void **state)
{
    struct ald_sqldb *db = conn();
    struct ald_sqlstmt *s1, *s2, *s3;
    const char *sql = "SELECT ?1 + 100";
    const char *count = "SELECT count(*) FROM pg_prepared_statements WHERE statement = "
                        "'SELECT $1 + 100'";
    (void)state;
    s1 = prep(db, sql);
    assert_int_equal(D->bind_int64(s1, 1, 1), ALD_SQL_OK);
    assert_int_equal(D->step(s1), ALD_SQL_ROW);
    assert_int_equal(D->column_int64(s1, 0), 101);
    D->finalize(s1);
    for (int i = 0; i < 20; i++) {
        s2 = prep(db, sql);
        assert_ptr_equal(s2, s1);
        assert_int_equal(D->bind_int64(s2, 1, i), ALD_SQL_OK);
        assert_int_equal(D->step(s2), ALD_SQL_ROW);
        assert_int_equal(D->column_int64(s2, 0), 100 + i);
        D->finalize(s2);
    }
    assert_int_equal(query_int(db, count), 1);
    /* The same text twice at once: two statements, both cached after. */
    s2 = prep(db, sql);
    s3 = prep(db, sql);
    assert_ptr_not_equal(s2, s3);
    assert_int_equal(D->bind_int64(s2, 1, 1), ALD_SQL_OK);
    assert_int_equal(D->bind_int64(s3, 1, 2), ALD_SQL_OK);
    assert_int_equal(D->step(s2), ALD_SQL_ROW);
    assert_int_equal(D->step(s3), ALD_SQL_ROW); /* two results open at once */
    assert_int_equal(D->column_int64(s2, 0), 101);
    assert_int_equal(D->column_int64(s3, 0), 102);
    D->finalize(s2);
    D->finalize(s3);
    assert_int_equal(query_int(db, count), 2);
    /* A new connection has its own cache. */
    {
        struct ald_sqldb *other = conn();
        assert_int_equal(query_int(other, count), 0);
        D->close(other);
    }
    /* Many distinct statements: the cache stays bounded. */
    for (int i = 0; i < 300; i++) {
        char q[64];
        snprintf(q, sizeof q, "SELECT %d", i);
        assert_int_equal(query_int(db, q), i);
    }
    assert_true(query_int(db, "SELECT count(*) FROM pg_prepared_statements") <= 257);
    D->close(db);
}

static void test_changes(void **state)
{
    struct ald_sqldb *db = conn();
    struct ald_sqlstmt *s;
    (void)state;
    exec_ok(db, "DROP TABLE IF EXISTS tpg_ch; CREATE TABLE tpg_ch (v INT);"
                "INSERT INTO tpg_ch SELECT generate_series(1, 5)");
    assert_int_equal(D->changes(db), 5);
    s = prep(db, "UPDATE tpg_ch SET v = v * 10 WHERE v <= ?1");
    assert_int_equal(D->bind_int64(s, 1, 3), ALD_SQL_OK);
    assert_int_equal(D->step(s), ALD_SQL_DONE);
    assert_int_equal(D->changes(db), 3);
    D->finalize(s);
    assert_int_equal(query_int(db, "SELECT count(*) FROM tpg_ch"), 5);
    assert_int_equal(D->changes(db), 3); /* a SELECT leaves it */
    exec_ok(db, "DELETE FROM tpg_ch WHERE v = 12345");
    assert_int_equal(D->changes(db), 0);
    exec_ok(db, "DROP TABLE tpg_ch");
    D->close(db);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_listen_notify(void **state)
{
    struct ald_sqldb *a = conn(), *b = conn();
    char payload[64], small[4];
    int64_t t0;
    (void)state;
    assert_int_equal(D->listen(a, "tpg_chan"), ALD_SQL_OK);
    assert_int_equal(D->listen(a, "tpg \"odd\" name"), ALD_SQL_OK);
    t0 = now_ms();
    assert_int_equal(D->wait(a, 150, payload, sizeof payload), ALD_SQL_DONE);
    assert_true(now_ms() - t0 >= 140);
    assert_int_equal(D->notify(b, "tpg_chan", "hello"), ALD_SQL_OK);
    assert_int_equal(D->wait(a, 5000, payload, sizeof payload), ALD_SQL_OK);
    assert_string_equal(payload, "hello");
    assert_int_equal(D->notify(b, "tpg \"odd\" name", ""), ALD_SQL_OK);
    assert_int_equal(D->wait(a, 5000, payload, sizeof payload), ALD_SQL_OK);
    assert_string_equal(payload, "");
    /* Not listened: nothing arrives. */
    assert_int_equal(D->notify(b, "tpg_other", "no"), ALD_SQL_OK);
    assert_int_equal(D->wait(a, 100, payload, sizeof payload), ALD_SQL_DONE);
    /* Inside a transaction, delivered at commit. */
    exec_ok(b, "BEGIN");
    assert_int_equal(D->notify(b, "tpg_chan", "later"), ALD_SQL_OK);
    assert_int_equal(D->wait(a, 100, payload, sizeof payload), ALD_SQL_DONE);
    exec_ok(b, "COMMIT");
    assert_int_equal(D->wait(a, 5000, payload, sizeof payload), ALD_SQL_OK);
    assert_string_equal(payload, "later");
    /* A notification that arrived while the listener ran a query is not lost; a long
     * payload is cut to fit. */
    assert_int_equal(D->notify(b, "tpg_chan", "truncated"), ALD_SQL_OK);
    sleep_ms(100);
    assert_int_equal(query_int(a, "SELECT 1"), 1);
    assert_int_equal(D->wait(a, 0, small, sizeof small), ALD_SQL_OK);
    assert_string_equal(small, "tru");
    D->close(a);
    D->close(b);
}

int main(void)
{
    const char *dir = getenv("AIRLIFT_PG_DIR") ? getenv("AIRLIFT_PG_DIR") : AIRLIFT_PG_DIR;
    char path[512];
    FILE *f;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect),       cmocka_unit_test(test_bad_url),
        cmocka_unit_test(test_unreachable),   cmocka_unit_test(test_types),
        cmocka_unit_test(test_placeholders),  cmocka_unit_test(test_errors),
        cmocka_unit_test(test_constraint),    cmocka_unit_test(test_retry),
        cmocka_unit_test(test_deadlock),
        cmocka_unit_test(test_gone_terminated), cmocka_unit_test(test_gone_stopped),
        cmocka_unit_test(test_cache),         cmocka_unit_test(test_changes),
        cmocka_unit_test(test_listen_notify),
    };
    snprintf(path, sizeof path, "%s/url", dir);
    f = fopen(path, "r");
    if (!f || !fgets(g_url, sizeof g_url, f)) {
        fprintf(stderr, "test_sqldb_pg: no test cluster (%s missing; the ctest fixture pg_cluster_start "
                        "makes it); skipping\n", path);
        if (f)
            fclose(f);
        return 77;
    }
    fclose(f);
    g_url[strcspn(g_url, "\n")] = '\0';
    return cmocka_run_group_tests(tests, NULL, NULL);
}
