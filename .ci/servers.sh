#!/usr/bin/env bash
# Start a throw-away PostgreSQL and Redis on loopback for the server tests.
#   source .ci/servers.sh DIR     -> exports BATCHOPS_TEST_DATABASE_URL, BATCHOPS_TEST_QUEUE_URL
#   bash .ci/servers.sh stop DIR  -> stops both
# Installs Debian's postgresql and redis-server when missing (root). The cluster is
# initdb'ed as the postgres user into DIR/pg on a free port; nothing listens beyond 127.0.0.1.
set -euo pipefail

_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

_pg_bin() {
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -n "$bin" ] && echo "$bin"
}

_install() {
    if [ -z "$(_pg_bin)" ] || ! command -v redis-server >/dev/null; then
        echo "== apt-get install postgresql redis-server"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq postgresql redis-server >/dev/null
    fi
}

_stop() {
    local dir="$1" bin
    bin="$(_pg_bin)"
    if [ -f "$dir/pg/postmaster.pid" ]; then
        su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/pg' -m immediate stop" >/dev/null 2>&1 || true
    fi
    if [ -f "$dir/redis.pid" ]; then
        kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    fi
}

_start() {
    local dir="$1" bin pg_port redis_port
    _install
    bin="$(_pg_bin)"
    mkdir -p "$dir"
    chmod 755 "$dir"
    pg_port="$(_free_port)"
    redis_port="$(_free_port)"
    install -d -o postgres -g postgres -m 700 "$dir/pg"
    su postgres -s /bin/sh -c "$bin/initdb -D '$dir/pg' -A trust -U postgres -E UTF8 --no-sync" >"$dir/initdb.log" 2>&1
    su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/pg' -l '$dir/pg/server.log' -w \
        -o \"-c listen_addresses=127.0.0.1 -p $pg_port -k '$dir/pg' -c fsync=off -c max_connections=200\" start" \
        >/dev/null
    redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    export BATCHOPS_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/postgres"
    export BATCHOPS_TEST_QUEUE_URL="redis://127.0.0.1:$redis_port/0"
    export PATH="$bin:$PATH"  # pg_dump / pg_restore of the server's own version
    echo "== PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port ($dir)"
}

if [ "${1:-}" = "stop" ]; then
    _stop "$2"
else
    _start "$1"
fi
