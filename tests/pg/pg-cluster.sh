#!/usr/bin/env bash
# pg-cluster.sh - a throwaway PostgreSQL cluster for the tests (docs/deployment.md, "Tests on
# PostgreSQL").
#
#   pg-cluster.sh start DIR          initdb (first time) and start a cluster in DIR; print its URL
#   pg-cluster.sh stop DIR           stop it (fast shutdown); DIR is left as it is
#   pg-cluster.sh createdb DIR NAME  a fresh, empty database NAME (dropped first if it exists);
#                                    print its URL
#   pg-cluster.sh dropdb DIR NAME    drop database NAME if it exists
#   pg-cluster.sh url DIR [NAME]     print the URL of database NAME (default airlift)
#
# DIR names the cluster; the cluster itself lives in a short folder of its own under /tmp,
# /tmp/airlift-pg-HASH (HASH: of DIR's path), so that the server's user can reach it whatever
# DIR's parents allow and its socket path stays short: HOME/data, HOME/log, and the Unix
# socket in HOME/sock (listen_addresses = '', no TCP). It runs with fsync = off: fast, and
# not for real data. DIR holds the URL (DIR/url) and a link to HOME (DIR/home).
# Authentication is trust for local connections as user postgres. start also creates the
# database airlift and writes its URL to DIR/url:
#   postgresql:///airlift?host=HOME/sock&user=postgres
# As root, initdb and the server run as the user postgres (initdb refuses root; the user
# exists once Debian's postgresql package is installed) and HOME is chowned to it; as any
# other user they run as that user. Every command is idempotent.
#
# Exit status: 0 done, 77 PostgreSQL's server binaries are not installed (tests skip),
# 2 usage, 1 anything else (the message says what).
set -euo pipefail

die() { echo "pg-cluster: $*" >&2; exit 1; }
usage() { echo "usage: pg-cluster.sh start|stop DIR | createdb|dropdb DIR NAME | url DIR [NAME]" >&2; exit 2; }

[ $# -ge 2 ] || usage
cmd=$1
DIR=$2
[ -n "$DIR" ] || usage
case $DIR in /*) ;; *) DIR=$(pwd)/$DIR ;; esac

# PostgreSQL 15 from Debian's packages (PG_BINDIR overrides).
BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [ ! -x "$BIN/initdb" ] || [ ! -x "$BIN/pg_ctl" ] || [ ! -x "$BIN/psql" ]; then
    echo "pg-cluster: PostgreSQL 15 server binaries not found in $BIN" \
         "(install Debian's postgresql package: scripts/deps.sh); skipping" >&2
    [ "$cmd" != start ] || rm -f "$DIR/url" # no stale URL for the tests to find
    exit 77
fi

if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root, but there is no user postgres to run the server as"
    PGUSER_OS=postgres
    as_pg() { runuser -u postgres -- "$@"; }
else
    PGUSER_OS=$(id -un)
    as_pg() { "$@"; }
fi
DBUSER=$PGUSER_OS
PGHOME=/tmp/airlift-pg-$(printf '%s' "$DIR" | sha256sum | cut -c1-12)
SOCK=$PGHOME/sock
DATA=$PGHOME/data
LOG=$PGHOME/log

url_of() { echo "postgresql:///$1?host=$SOCK&user=$DBUSER"; }

psql_q() { # psql_q DB SQL: run SQL, print the rows unaligned
    as_pg env PGOPTIONS="-c client_min_messages=warning" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -U "$DBUSER" -d "$1" -tA -c "$2"
}

running() { as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

valid_name() { [[ $1 =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; }

case $cmd in
start)
    [ $# -eq 2 ] || usage
    mkdir -p "$DIR" "$PGHOME" "$SOCK"
    chmod 700 "$PGHOME"
    [ "$PGUSER_OS" = "$(id -un)" ] || chown "$PGUSER_OS" "$PGHOME" "$SOCK"
    ln -sfn "$PGHOME" "$DIR/home"
    if [ ! -s "$DATA/PG_VERSION" ]; then
        rm -rf "$DATA"
        as_pg "$BIN/initdb" -D "$DATA" -U "$DBUSER" --auth=trust -E UTF8 --locale=C.UTF-8 \
            --no-sync >"$PGHOME/initdb.log" 2>&1 || { cat "$PGHOME/initdb.log" >&2; die "initdb failed"; }
        cat >>"$DATA/postgresql.conf" <<CONF

# pg-cluster.sh: a throwaway test cluster
listen_addresses = ''
unix_socket_directories = '$SOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
log_min_messages = warning
CONF
    fi
    if ! running; then
        as_pg touch "$LOG" 2>/dev/null || true
        as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s start >/dev/null ||
            { tail -n 20 "$LOG" >&2; die "the server did not start (log: $LOG)"; }
    fi
    if [ "$(psql_q postgres "SELECT 1 FROM pg_database WHERE datname = 'airlift'")" != 1 ]; then
        psql_q postgres "CREATE DATABASE airlift" >/dev/null
    fi
    url_of airlift >"$DIR/url.tmp" && mv "$DIR/url.tmp" "$DIR/url"
    cat "$DIR/url"
    ;;
stop)
    [ $# -eq 2 ] || usage
    if [ -s "$DATA/PG_VERSION" ] && running; then
        as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 -s stop >/dev/null || die "pg_ctl stop failed"
    fi
    ;;
createdb)
    [ $# -eq 3 ] || usage
    valid_name "$3" || die "database name '$3': expected [a-z_][a-z0-9_]* (at most 63 characters)"
    running || die "no cluster running in $DIR (run: pg-cluster.sh start $DIR)"
    psql_q postgres "DROP DATABASE IF EXISTS $3 WITH (FORCE)" >/dev/null
    psql_q postgres "CREATE DATABASE $3" >/dev/null
    url_of "$3"
    ;;
dropdb)
    [ $# -eq 3 ] || usage
    valid_name "$3" || die "database name '$3': expected [a-z_][a-z0-9_]* (at most 63 characters)"
    [ "$3" != postgres ] || die "will not drop the database postgres"
    running || die "no cluster running in $DIR (run: pg-cluster.sh start $DIR)"
    psql_q postgres "DROP DATABASE IF EXISTS $3 WITH (FORCE)" >/dev/null
    ;;
url)
    [ $# -le 3 ] || usage
    name=${3:-airlift}
    valid_name "$name" || die "database name '$name': expected [a-z_][a-z0-9_]*"
    url_of "$name"
    ;;
*)
    usage
    ;;
esac
