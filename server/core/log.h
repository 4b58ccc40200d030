/*
 * log.h - airliftd's structured logs: one line per event on stderr, either logfmt
 * (`ts=... level=info msg="..." key=value`) or JSON lines. Thread-safe; every line is written
 * with a single write(2) so concurrent threads never interleave.
 */
#ifndef AIRLIFTD_LOG_H
#define AIRLIFTD_LOG_H

#include <stdbool.h>

enum ald_log_level {
    ALD_LOG_DEBUG = 0,
    ALD_LOG_INFO = 1,
    ALD_LOG_WARN = 2,
    ALD_LOG_ERROR = 3,
};

/*
 * Lines below min are dropped; json selects JSON lines instead of logfmt. When stderr is the
 * systemd journal ($JOURNAL_STREAM names it), each line starts with its syslog priority,
 * "<3>" error, "<4>" warn, "<6>" info, "<7>" debug (sd-daemon(3)), which the journal takes
 * off and keeps as the entry's priority. Call again after stderr changed (--log-file).
 */
void ald_log_setup(enum ald_log_level min, bool json);

/* "debug", "info", "warn"/"warning", "error" -> level; returns -1 for anything else. */
int ald_log_level_parse(const char *s);

/*
 * Log msg with key/value string pairs, terminated by a NULL key:
 *     ald_log(ALD_LOG_INFO, "device created", "device", name, "platform", "10", NULL);
 * A NULL value is logged as an empty string. Values are escaped; a line longer than the
 * internal buffer (4 KiB) is truncated, never split.
 */
void ald_log(enum ald_log_level level, const char *msg, ...);

/*
 * issue 14 (tokens): every line this thread logs from now on ends with token=NAME (unless
 * it has a "token" key of its own), until ald_log_token(NULL) or (""). Set with the event
 * actor for the API request being handled (events.h), so that each log line names the token
 * that caused it. name is copied (at most 79 bytes).
 */
void ald_log_token(const char *name);

#endif
