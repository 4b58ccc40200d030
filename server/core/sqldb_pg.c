/*
 * sqldb_pg.c - the PostgreSQL driver of sqldb.h, on libpq (docs/deployment.md, "The
 * PostgreSQL driver").
 *
 * - Placeholders ?N become $N outside string literals, quoted identifiers, dollar-quoted
 *   strings and comments; the statement is prepared on the server once per connection
 *   (PQprepare) and kept in a per-connection cache keyed by the store's SQL text. Parameter
 *   types are those the server infers at prepare time.
 * - Parameters: integers and text are sent in text format, blobs in binary format (BYTEA).
 *   An unbound parameter is NULL.
 * - Results are requested in text format; the whole result of a statement is read by its
 *   first step (PQexecPrepared) and later steps walk its rows. Integers are parsed from the
 *   text (booleans 't'/'f' read as 1/0); a BYTEA column is decoded with PQunescapeBytea when
 *   column_blob asks for it (any other column's blob is its text bytes).
 * - Errors map by SQLSTATE: 40001, 40P01 -> RETRY; class 23 -> CONSTRAINT; a broken
 *   connection, class 08 and 57P01..57P03 -> GONE. Messages carry the server's primary
 *   message, the SQLSTATE and the constraint's name, never DETAIL (which can quote row
 *   values).
 */
#include "sqldb.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_ERR_MAX 512
#define PG_MAX_PARAMS 32767   /* PostgreSQL's limit on parameters of one statement */
#define PG_CACHE_MAX 256      /* idle prepared statements kept per connection */
#define PG_BYTEA_OID 17
#define PG_BOOL_OID 16

struct pg_param {
    char *buf;    /* value: text (NUL-terminated) or blob bytes */
    size_t cap;
    int len;
    int format;   /* 0 text, 1 binary */
    bool set;     /* false: NULL */
};

struct ald_sqlstmt {
    struct ald_sqldb *db;
    struct ald_sqlstmt *next, *prev; /* in db's list of every statement */
    char *sql;                       /* the store's text: the cache key */
    char name[24];                   /* server-side name, "ald_N" */
    int nparams;
    struct pg_param *params;
    const char **values;             /* per step: what PQexecPrepared reads */
    int *lengths, *formats;
    PGresult *res;
    int row, nrows;
    bool executed, in_use;
    enum ald_sql_rc failed;          /* OK, or the error a failed step returned */
    unsigned char **blobs;           /* decoded BYTEA per column of the current row */
    size_t *bloblens;
    int nblobs;
};

struct ald_sqldb {
    PGconn *conn;
    struct ald_sqlstmt *stmts;       /* every statement, most recently used first */
    unsigned idle;                   /* how many of them are in the cache */
    unsigned next_id;
    int64_t changes;
    char err[PG_ERR_MAX];
};

static void set_err(struct ald_sqldb *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct ald_sqldb *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->err, sizeof db->err, fmt, ap);
    va_end(ap);
}

/* Copy a libpq message into out[cap] on one line: newlines and tabs become spaces, runs
 * of spaces collapse, the ends are trimmed. */
static void one_line(char *out, size_t cap, const char *msg)
{
    size_t n = 0;
    bool space = false;
    if (cap == 0)
        return;
    for (; msg && *msg && n + 1 < cap; msg++) {
        char c = *msg;
        if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < cap)
            out[n++] = ' ';
        space = false;
        out[n++] = c;
    }
    out[n] = '\0';
}

/* The error class of a failed result (or of the connection, when res is NULL). */
static enum ald_sql_rc classify(struct ald_sqldb *db, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(db->conn) == CONNECTION_BAD)
        return ALD_SQL_GONE;
    if (!state || strlen(state) != 5)
        return ALD_SQL_ERROR;
    if (!strcmp(state, "40001") || !strcmp(state, "40P01"))
        return ALD_SQL_RETRY;
    if (!strncmp(state, "23", 2))
        return ALD_SQL_CONSTRAINT;
    if (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
        !strcmp(state, "57P03"))
        return ALD_SQL_GONE;
    return ALD_SQL_ERROR;
}

/* Record what went wrong with res (NULL: the connection) in db->err; returns its class. */
static enum ald_sql_rc fail(struct ald_sqldb *db, const PGresult *res, const char *what)
{
    enum ald_sql_rc rc = classify(db, res);
    char msg[300];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;

    one_line(msg, sizeof msg, primary ? primary : PQerrorMessage(db->conn));
    if (!msg[0])
        one_line(msg, sizeof msg, rc == ALD_SQL_GONE ? "connection lost" : "unknown error");
    set_err(db, "postgresql: %s: %s%s%s%s%s%s", what, msg, state ? " (SQLSTATE " : "",
            state ? state : "", state ? ")" : "", constraint ? " constraint " : "",
            constraint ? constraint : "");
    return rc;
}

/* Rows changed, from the command tag of an INSERT/UPDATE/DELETE/MERGE (others leave it). */
static void note_changes(struct ald_sqldb *db, PGresult *res)
{
    const char *tag = PQcmdStatus(res), *n = PQcmdTuples(res);
    if (!tag || !n || !n[0])
        return;
    if (strncmp(tag, "INSERT ", 7) && strncmp(tag, "UPDATE ", 7) && strncmp(tag, "DELETE ", 7) &&
        strncmp(tag, "MERGE ", 6))
        return;
    db->changes = strtoll(n, NULL, 10);
}

/* ------------------------------------------------------------------------------------- */
/* Connecting                                                                             */

/* True if url may carry a password: a ':' before the last '@' ahead of the first '/' (as
 * libpq reads "user:password@"), or a password= anywhere. */
static bool url_has_password(const char *url)
{
    const char *auth = strstr(url, "://"), *end, *at = NULL;
    if (!auth)
        return false;
    auth += 3;
    end = auth + strcspn(auth, "/");
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    return (at && memchr(auth, ':', (size_t)(at - auth))) || strstr(url, "password=") != NULL;
}

/* The value of keyword in a parsed conninfo, or dflt. */
static const char *opt(const PQconninfoOption *o, const char *keyword, const char *dflt)
{
    for (; o && o->keyword; o++)
        if (!strcmp(o->keyword, keyword))
            return o->val && o->val[0] ? o->val : dflt;
    return dflt;
}

static void notice_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (e.g. "relation exists, skipping") are not errors: drop them */
}

/*
 * Connect to a libpq URI. Options the URI leaves out: application_name=airliftd,
 * connect_timeout=10, client_encoding=UTF8. Messages name host, port, dbname and user
 * (never the password).
 */
static enum ald_sql_rc pg_connect(const char *target, struct ald_sqldb **out, char *err,
                                  size_t errlen)
{
    enum ald_sql_rc rc = ALD_SQL_ERROR;
    PQconninfoOption *opts = NULL;
    struct ald_sqldb *db = NULL;
    char *perr = NULL, msg[300];
    const char *keys[] = {"application_name", "connect_timeout", "client_encoding", "dbname",
                          NULL};
    const char *vals[] = {"airliftd", "10", "UTF8", target, NULL};

    *out = NULL;
    if (strncmp(target, "postgresql://", 13) && strncmp(target, "postgres://", 11)) {
        snprintf(err, errlen, "postgresql: expected a URL postgresql://... or postgres://...");
        goto out;
    }
    opts = PQconninfoParse(target, &perr);
    if (!opts) {
        if (perr && !url_has_password(target))
            one_line(msg, sizeof msg, perr);
        else
            one_line(msg, sizeof msg, perr ? "cannot parse it" : "out of memory");
        snprintf(err, errlen, "postgresql: malformed URL: %s", msg);
        goto out;
    }
    db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "postgresql: out of memory");
        goto out;
    }
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (!db->conn) {
        snprintf(err, errlen, "postgresql: out of memory");
        goto out;
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        one_line(msg, sizeof msg, PQerrorMessage(db->conn));
        snprintf(err, errlen, "postgresql: cannot connect to host=%s port=%s dbname=%s user=%s: %s",
                 opt(opts, "host", opt(opts, "hostaddr", "(default)")), opt(opts, "port", "5432"),
                 opt(opts, "dbname", "(default)"), opt(opts, "user", "(default)"), msg);
        rc = ALD_SQL_GONE;
        goto out;
    }
    PQsetNoticeProcessor(db->conn, notice_quiet, NULL);
    *out = db;
    db = NULL;
    rc = ALD_SQL_OK;
out:
    if (db) {
        if (db->conn)
            PQfinish(db->conn);
        free(db);
    }
    if (opts)
        PQconninfoFree(opts);
    if (perr)
        PQfreemem(perr);
    return rc;
}

static void stmt_free(struct ald_sqlstmt *s);

static void pg_close(struct ald_sqldb *db)
{
    if (!db)
        return;
    while (db->stmts) {
        struct ald_sqlstmt *s = db->stmts;
        db->stmts = s->next;
        stmt_free(s);
    }
    if (db->conn)
        PQfinish(db->conn);
    free(db);
}

/* ------------------------------------------------------------------------------------- */
/* Plain SQL                                                                              */

static enum ald_sql_rc pg_exec(struct ald_sqldb *db, const char *sql)
{
    enum ald_sql_rc rc;
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        note_changes(db, res);
        rc = ALD_SQL_OK;
    } else {
        rc = fail(db, res, "exec");
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------------------------- */
/* Statements                                                                             */

/* A character of an unquoted identifier (or keyword). */
static bool ident_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (unsigned char)c >= 0x80;
}

/*
 * Rewrite ?N to $N in sql outside '...' and E'...' strings, "..." identifiers, $tag$...$tag$
 * strings, -- and (nested) block comments. A ? not followed by a digit stays. Returns the
 * new text (malloc'ed; *nparams = the highest N) or NULL with db->err set.
 */
static char *rewrite(struct ald_sqldb *db, const char *sql, int *nparams)
{
    size_t n = strlen(sql), o = 0;
    char *out = malloc(n + 1);
    int max = 0;
    if (!out) {
        set_err(db, "postgresql: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            /* A string or identifier; E'...' strings also escape with backslashes. */
            bool esc = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                       (i < 2 || !ident_char(sql[i - 2]));
            out[o++] = sql[i++];
            while (i < n) {
                if (esc && sql[i] == '\\' && i + 1 < n) {
                    out[o++] = sql[i++];
                    out[o++] = sql[i++];
                    continue;
                }
                if (sql[i] == c) {
                    out[o++] = sql[i++];
                    if (i < n && sql[i] == c) { /* '' or "": a quote inside */
                        out[o++] = sql[i++];
                        continue;
                    }
                    break;
                }
                out[o++] = sql[i++];
            }
        } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
            while (i < n && sql[i] != '\n')
                out[o++] = sql[i++];
        } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
            int depth = 0;
            do {
                if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
                    depth++;
                    out[o++] = sql[i++];
                } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
                    depth--;
                    out[o++] = sql[i++];
                }
                out[o++] = sql[i++];
            } while (i < n && depth > 0);
        } else if (c == '$' && (i == 0 || !ident_char(sql[i - 1]))) {
            /* $tag$ ... $tag$ (the tag may be empty), or a $N parameter left alone. */
            size_t t = i + 1;
            while (t < n && ident_char(sql[t]) && !(t == i + 1 && sql[t] >= '0' && sql[t] <= '9'))
                t++;
            if (t < n && sql[t] == '$') {
                size_t taglen = t + 1 - i, end = n;
                for (const char *p = strchr(sql + t + 1, '$'); p; p = strchr(p + 1, '$')) {
                    if (!strncmp(p, sql + i, taglen)) {
                        end = (size_t)(p - sql) + taglen;
                        break;
                    }
                }
                memcpy(out + o, sql + i, end - i);
                o += end - i;
                i = end;
            } else {
                out[o++] = sql[i++];
            }
        } else if (c == '?' && i + 1 < n && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            long v = 0;
            out[o++] = '$';
            i++;
            while (i < n && sql[i] >= '0' && sql[i] <= '9') {
                v = v * 10 + (sql[i] - '0');
                if (v > PG_MAX_PARAMS) {
                    free(out);
                    set_err(db, "postgresql: placeholder ?%ld... beyond ?%d", v, PG_MAX_PARAMS);
                    return NULL;
                }
                out[o++] = sql[i++];
            }
            if (v == 0) {
                free(out);
                set_err(db, "postgresql: placeholder ?0: placeholders are numbered from ?1");
                return NULL;
            }
            if (v > max)
                max = (int)v;
        } else {
            out[o++] = sql[i++];
        }
    }
    out[o] = '\0';
    *nparams = max;
    return out;
}

/* Drop the current result and the blobs decoded from it. */
static void stmt_clear_result(struct ald_sqlstmt *s)
{
    for (int i = 0; i < s->nblobs; i++)
        if (s->blobs[i])
            PQfreemem(s->blobs[i]);
    free(s->blobs);
    free(s->bloblens);
    s->blobs = NULL;
    s->bloblens = NULL;
    s->nblobs = 0;
    PQclear(s->res);
    s->res = NULL;
    s->row = -1;
    s->nrows = 0;
    s->executed = false;
    s->failed = ALD_SQL_OK;
}

static void stmt_free(struct ald_sqlstmt *s)
{
    stmt_clear_result(s);
    for (int i = 0; i < s->nparams; i++)
        free(s->params[i].buf);
    free(s->params);
    free(s->values);
    free(s->lengths);
    free(s->formats);
    free(s->sql);
    free(s);
}

static void list_unlink(struct ald_sqldb *db, struct ald_sqlstmt *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        db->stmts = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

static void list_push(struct ald_sqldb *db, struct ald_sqlstmt *s)
{
    s->prev = NULL;
    s->next = db->stmts;
    if (db->stmts)
        db->stmts->prev = s;
    db->stmts = s;
}

/* A cached statement for sql, or a new one prepared on the server. */
static enum ald_sql_rc pg_prepare(struct ald_sqldb *db, const char *sql, struct ald_sqlstmt **out)
{
    enum ald_sql_rc rc = ALD_SQL_ERROR;
    struct ald_sqlstmt *s;
    char *text = NULL;
    PGresult *res = NULL;
    int nparams = 0;

    *out = NULL;
    for (s = db->stmts; s; s = s->next) {
        if (!s->in_use && !strcmp(s->sql, sql)) {
            list_unlink(db, s);
            list_push(db, s);
            s->in_use = true;
            db->idle--;
            *out = s;
            return ALD_SQL_OK;
        }
    }
    text = rewrite(db, sql, &nparams);
    if (!text)
        goto out;
    s = calloc(1, sizeof *s);
    if (!s || !(s->sql = strdup(sql)) ||
        (nparams > 0 && (!(s->params = calloc((size_t)nparams, sizeof *s->params)) ||
                         !(s->values = calloc((size_t)nparams, sizeof *s->values)) ||
                         !(s->lengths = calloc((size_t)nparams, sizeof *s->lengths)) ||
                         !(s->formats = calloc((size_t)nparams, sizeof *s->formats))))) {
        set_err(db, "postgresql: out of memory");
        goto out;
    }
    s->db = db;
    s->nparams = nparams;
    s->row = -1;
    snprintf(s->name, sizeof s->name, "ald_%u", ++db->next_id);
    res = PQprepare(db->conn, s->name, text, nparams, NULL);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        char head[81], what[100];
        one_line(head, sizeof head, sql); /* the statement's start names it in the log */
        snprintf(what, sizeof what, "prepare `%s%s`", head, strlen(sql) > 80 ? "..." : "");
        rc = fail(db, res, what);
        goto out;
    }
    s->in_use = true;
    list_push(db, s);
    *out = s;
    s = NULL;
    rc = ALD_SQL_OK;
out:
    if (s)
        stmt_free(s);
    PQclear(res);
    free(text);
    return rc;
}

/* The parameter idx (from 1) of a statement not yet run, or NULL with the error set. */
static struct pg_param *param(struct ald_sqlstmt *s, int idx)
{
    if (idx < 1 || idx > s->nparams) {
        set_err(s->db, "postgresql: bind: parameter ?%d out of range (the statement has %d)", idx,
                s->nparams);
        return NULL;
    }
    if (s->executed) {
        set_err(s->db, "postgresql: bind: the statement has run; reset it first");
        return NULL;
    }
    return &s->params[idx - 1];
}

/* Store n bytes (plus a NUL) as parameter idx's value. */
static enum ald_sql_rc bind_bytes(struct ald_sqlstmt *s, int idx, const void *p, size_t n,
                                  int format)
{
    struct pg_param *pp = param(s, idx);
    if (!pp)
        return ALD_SQL_ERROR;
    if (n > 0x3fffffff) {
        set_err(s->db, "postgresql: bind: parameter ?%d too large (%zu bytes)", idx, n);
        return ALD_SQL_ERROR;
    }
    if (pp->cap < n + 1) {
        char *b = realloc(pp->buf, n + 1);
        if (!b) {
            set_err(s->db, "postgresql: out of memory");
            return ALD_SQL_ERROR;
        }
        pp->buf = b;
        pp->cap = n + 1;
    }
    if (n)
        memcpy(pp->buf, p, n);
    pp->buf[n] = '\0';
    pp->len = (int)n;
    pp->format = format;
    pp->set = true;
    return ALD_SQL_OK;
}

static enum ald_sql_rc pg_bind_int64(struct ald_sqlstmt *s, int idx, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRId64, v);
    return bind_bytes(s, idx, text, (size_t)n, 0);
}

static enum ald_sql_rc pg_bind_null(struct ald_sqlstmt *s, int idx)
{
    struct pg_param *pp = param(s, idx);
    if (!pp)
        return ALD_SQL_ERROR;
    pp->set = false;
    return ALD_SQL_OK;
}

static enum ald_sql_rc pg_bind_text(struct ald_sqlstmt *s, int idx, const char *v)
{
    return v ? bind_bytes(s, idx, v, strlen(v), 0) : pg_bind_null(s, idx);
}

static enum ald_sql_rc pg_bind_blob(struct ald_sqlstmt *s, int idx, const void *p, size_t n)
{
    return bind_bytes(s, idx, n ? p : "", n, 1);
}

/* First step: run the statement. Later steps: the next row. */
static enum ald_sql_rc pg_step(struct ald_sqlstmt *s)
{
    struct ald_sqldb *db = s->db;
    if (s->failed != ALD_SQL_OK) {
        set_err(db, "postgresql: step: the statement failed; reset it before running it again");
        return s->failed;
    }
    if (!s->executed) {
        ExecStatusType st;
        for (int i = 0; i < s->nparams; i++) {
            s->values[i] = s->params[i].set ? s->params[i].buf : NULL;
            s->lengths[i] = s->params[i].len;
            s->formats[i] = s->params[i].format;
        }
        s->executed = true;
        s->res = PQexecPrepared(db->conn, s->name, s->nparams, s->values, s->lengths, s->formats,
                                0);
        st = s->res ? PQresultStatus(s->res) : PGRES_FATAL_ERROR;
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            s->failed = fail(db, s->res, "step");
            PQclear(s->res);
            s->res = NULL;
            return s->failed;
        }
        note_changes(db, s->res);
        s->nrows = st == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
        s->nblobs = st == PGRES_TUPLES_OK ? PQnfields(s->res) : 0;
        if (s->nblobs > 0 && (!(s->blobs = calloc((size_t)s->nblobs, sizeof *s->blobs)) ||
                              !(s->bloblens = calloc((size_t)s->nblobs, sizeof *s->bloblens)))) {
            s->nblobs = 0; /* stmt_clear_result frees what was allocated */
            set_err(db, "postgresql: out of memory");
            s->failed = ALD_SQL_ERROR;
            return s->failed;
        }
        s->row = -1;
    }
    for (int i = 0; i < s->nblobs; i++) {
        if (s->blobs[i]) {
            PQfreemem(s->blobs[i]);
            s->blobs[i] = NULL;
        }
    }
    if (s->row < s->nrows)
        s->row++;
    return s->row < s->nrows ? ALD_SQL_ROW : ALD_SQL_DONE;
}

/* True if col of the current row exists. */
static bool have(struct ald_sqlstmt *s, int col)
{
    return s->res && s->row >= 0 && s->row < s->nrows && col >= 0 && col < PQnfields(s->res);
}

static bool pg_column_is_null(struct ald_sqlstmt *s, int col)
{
    return !have(s, col) || PQgetisnull(s->res, s->row, col);
}

static int64_t pg_column_int64(struct ald_sqlstmt *s, int col)
{
    const char *v;
    if (pg_column_is_null(s, col))
        return 0;
    v = PQgetvalue(s->res, s->row, col);
    if (PQftype(s->res, col) == PG_BOOL_OID)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static const char *pg_column_text(struct ald_sqlstmt *s, int col)
{
    return pg_column_is_null(s, col) ? "" : PQgetvalue(s->res, s->row, col);
}

static const void *pg_column_blob(struct ald_sqlstmt *s, int col, size_t *len)
{
    const char *v;
    *len = 0;
    if (pg_column_is_null(s, col))
        return "";
    v = PQgetvalue(s->res, s->row, col);
    if (PQftype(s->res, col) != PG_BYTEA_OID) {
        *len = (size_t)PQgetlength(s->res, s->row, col);
        return v;
    }
    if (!s->blobs[col]) {
        s->blobs[col] = PQunescapeBytea((const unsigned char *)v, &s->bloblens[col]);
        if (!s->blobs[col]) {
            set_err(s->db, "postgresql: out of memory decoding a BYTEA column");
            return "";
        }
    }
    *len = s->bloblens[col];
    return s->blobs[col];
}

static enum ald_sql_rc pg_reset(struct ald_sqlstmt *s)
{
    stmt_clear_result(s);
    for (int i = 0; i < s->nparams; i++)
        s->params[i].set = false;
    return ALD_SQL_OK;
}

/* Back to the cache; beyond PG_CACHE_MAX idle statements the least recently used one is
 * deallocated on the server (unless the transaction has failed: then later). */
static void pg_finalize(struct ald_sqlstmt *s)
{
    struct ald_sqldb *db;
    if (!s)
        return;
    db = s->db;
    pg_reset(s);
    s->in_use = false;
    db->idle++;
    if (db->idle > PG_CACHE_MAX && PQtransactionStatus(db->conn) == PQTRANS_IDLE) {
        struct ald_sqlstmt *last = db->stmts, *victim = NULL;
        while (last && last->next)
            last = last->next;
        for (; last; last = last->prev) {
            if (!last->in_use) {
                victim = last;
                break;
            }
        }
        if (victim) {
            char sql[48];
            snprintf(sql, sizeof sql, "DEALLOCATE %s", victim->name);
            PQclear(PQexec(db->conn, sql));
            list_unlink(db, victim);
            stmt_free(victim);
            db->idle--;
        }
    }
}

static int64_t pg_changes(struct ald_sqldb *db)
{
    return db->changes;
}

static const char *pg_errmsg(struct ald_sqldb *db)
{
    return db->err;
}

/* ------------------------------------------------------------------------------------- */
/* LISTEN / NOTIFY                                                                        */

static enum ald_sql_rc pg_listen(struct ald_sqldb *db, const char *channel)
{
    enum ald_sql_rc rc;
    char *ident = PQescapeIdentifier(db->conn, channel, strlen(channel));
    char *sql;
    size_t n;
    if (!ident)
        return fail(db, NULL, "listen");
    n = strlen(ident) + 8;
    sql = malloc(n);
    if (!sql) {
        PQfreemem(ident);
        set_err(db, "postgresql: out of memory");
        return ALD_SQL_ERROR;
    }
    snprintf(sql, n, "LISTEN %s", ident);
    rc = pg_exec(db, sql);
    free(sql);
    PQfreemem(ident);
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One queued notification into payload; false if none is queued. */
static bool take_notify(struct ald_sqldb *db, char *payload, size_t cap)
{
    PGnotify *n = PQnotifies(db->conn);
    if (!n)
        return false;
    if (cap > 0) {
        size_t len = strlen(n->extra);
        if (len >= cap)
            len = cap - 1;
        memcpy(payload, n->extra, len);
        payload[len] = '\0';
    }
    PQfreemem(n);
    return true;
}

static enum ald_sql_rc pg_wait(struct ald_sqldb *db, unsigned timeout_ms, char *payload,
                               size_t cap)
{
    int64_t deadline = now_ms() + timeout_ms;
    if (cap > 0)
        payload[0] = '\0';
    for (;;) {
        struct pollfd pfd;
        int64_t left;
        int r;
        if (take_notify(db, payload, cap))
            return ALD_SQL_OK;
        pfd.fd = PQsocket(db->conn);
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (pfd.fd < 0 || PQstatus(db->conn) == CONNECTION_BAD) {
            set_err(db, "postgresql: wait: the connection is closed");
            return ALD_SQL_GONE;
        }
        left = deadline - now_ms();
        if (left < 0)
            left = 0;
        if (left > 1000000)
            left = 1000000; /* poll takes an int: wake now and then on long waits */
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno != EINTR) {
            set_err(db, "postgresql: wait: poll: %s", strerror(errno));
            return ALD_SQL_ERROR;
        }
        if (r > 0 && !PQconsumeInput(db->conn)) {
            char msg[300];
            one_line(msg, sizeof msg, PQerrorMessage(db->conn));
            set_err(db, "postgresql: wait: %s", msg[0] ? msg : "connection lost");
            return ALD_SQL_GONE;
        }
        if (r > 0 && take_notify(db, payload, cap))
            return ALD_SQL_OK;
        if (r == 0 || now_ms() >= deadline)
            return take_notify(db, payload, cap) ? ALD_SQL_OK : ALD_SQL_DONE;
    }
}

static enum ald_sql_rc pg_notify(struct ald_sqldb *db, const char *channel, const char *payload)
{
    enum ald_sql_rc rc = ALD_SQL_OK;
    const char *vals[2] = {channel, payload ? payload : ""};
    PGresult *res = PQexecParams(db->conn, "SELECT pg_notify($1, $2)", 2, NULL, vals, NULL, NULL,
                                 0);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = fail(db, res, "notify");
    PQclear(res);
    return rc;
}

/*
 * The PostgreSQL driver: connect takes a libpq URI (postgresql://... or postgres://...);
 * every other member follows sqldb.h, as the comment at the top of this file details
 * (docs/deployment.md, "The PostgreSQL driver").
 */
const struct ald_sql_driver ald_sqldb_pg = {
    .name = "postgresql",
    .connect = pg_connect,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind_int64 = pg_bind_int64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .column_is_null = pg_column_is_null,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .changes = pg_changes,
    .errmsg = pg_errmsg,
    .listen = pg_listen,
    .wait = pg_wait,
    .notify = pg_notify,
};
