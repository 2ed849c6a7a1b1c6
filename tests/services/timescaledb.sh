#!/usr/bin/env bash
# A private PostgreSQL cluster with TimescaleDB (Apache-2 edition) for the test suite.
#
#   timescaledb.sh install   make TimescaleDB available to the machine's PostgreSQL
#   timescaledb.sh start     install if needed, start the cluster, print its URL last
#   timescaledb.sh stop      stop the cluster
#   timescaledb.sh url       print its URL
#
# The cluster is our own (own data dir, own port), so the machine's cluster on 5432 and its
# configuration stay untouched. It holds throwaway test data: durability is off for speed.
set -Eeuo pipefail

ME=$(basename "$0")
PORT=${EYE_TEST_TSDB_PORT:-5433}
DATA=${EYE_TEST_TSDB_DIR:-/tmp/eye-test-timescaledb}
CACHE=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/eye-timescaledb
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
if [ "${1:-}" = url ]; then echo "$URL"; exit 0; fi

log() { echo "$ME: $*" >&2; }
die() { log "error: $*"; exit 1; }
# Anything else that fails under set -e says what it was instead of exiting silently.
trap 'log "error: failed at line $LINENO: $BASH_COMMAND"' ERR

# Root (CI, the dev machines) installs directly; anyone else goes through sudo.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user.
# cd / first: initdb complains when it cannot read the caller's working directory.
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
        || die "apt-get install $* failed"
}

apt_updated=
apt_update() {
    [ -n "$apt_updated" ] && return
    as_root apt-get update -qq >&2 || die "apt-get update failed"
    apt_updated=1
}

# The newest PostgreSQL major installed under Debian's layout; its own pg_config, not
# /usr/bin/pg_config, which can be libpq-dev's and name the wrong directories.
if [ ! -d /usr/lib/postgresql ]; then
    log "PostgreSQL is not installed; installing it"
    apt_update
    apt_install postgresql
fi
N=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
BIN=/usr/lib/postgresql/$N/bin
[ -x "$BIN/pg_config" ] || die "no $BIN/pg_config: is postgresql-$N installed?"

# Installed means: the loader, the control file and the versioned library it points at.
installed() {
    local lib share version
    lib=$("$BIN/pg_config" --pkglibdir)
    share=$("$BIN/pg_config" --sharedir)/extension
    [ -f "$lib/timescaledb.so" ] && [ -f "$share/timescaledb.control" ] || return 1
    version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$share/timescaledb.control")
    [ -n "$version" ] && [ -f "$lib/timescaledb-$version.so" ]
}

# Debian 12 has no TimescaleDB; Debian 13 (trixie) has the Apache-2 edition as a source
# package. Fetch that source with an apt configuration of our own (own sources list, lists
# and cache under $CACHE) so the machine's apt sources are never changed, then build it.
build_from_source() {
    local apt_dir=$CACHE/apt src
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$CACHE/src"
    echo "deb-src http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
    local apt_opts=(
        -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
        # apt's _apt user cannot write into root's cache directory; download as ourselves.
        -o "APT::Sandbox::User=$(id -un)"
    )

    src=$(ls -d "$CACHE"/src/timescaledb-*/ 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$src" ]; then
        log "fetching the timescaledb source package from Debian 13"
        apt-get "${apt_opts[@]}" update -qq >&2 || die "apt-get update of the trixie sources failed"
        (cd "$CACHE/src" && apt-get "${apt_opts[@]}" -qq source --download-only timescaledb) \
            || die "apt-get source timescaledb failed"
        tar -xf "$(ls "$CACHE"/src/timescaledb_*.orig.tar.* | sort -V | tail -n 1)" -C "$CACHE/src"
        src=$(ls -d "$CACHE"/src/timescaledb-*/ | sort -V | tail -n 1)
    fi

    # postgresql-server-dev-N brings the headers (and libpq-dev, libssl-dev with them).
    log "installing build dependencies for PostgreSQL $N"
    apt_update
    apt_install postgresql-server-dev-"$N" cmake build-essential libssl-dev

    # One build dir per PostgreSQL major, kept in the cache so a reinstall only relinks.
    local build=build-pg$N
    if [ ! -f "$src/$build/CMakeCache.txt" ]; then
        log "configuring TimescaleDB in $src$build"
        # BUILD_FORCE_REMOVE: bootstrap otherwise asks on stdin about an existing build dir.
        # Telemetry compiled out, as Debian's own package does.
        (cd "$src" && BUILD_DIR=$build BUILD_FORCE_REMOVE=true ./bootstrap \
            -DPG_CONFIG="$BIN/pg_config" -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF \
            -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DUSE_TELEMETRY=OFF -DSEND_TELEMETRY_DEFAULT=OFF >"$CACHE/configure.log" 2>&1) \
            || { tail -n 30 "$CACHE/configure.log" >&2; die "configuring TimescaleDB failed (log: $CACHE/configure.log)"; }
    fi
    log "building and installing TimescaleDB (log: $CACHE/build.log)"
    make -C "$src/$build" -j2 >"$CACHE/build.log" 2>&1 \
        || { tail -n 30 "$CACHE/build.log" >&2; die "building TimescaleDB failed"; }
    as_root make -C "$src/$build" install >>"$CACHE/build.log" 2>&1 \
        || { tail -n 30 "$CACHE/build.log" >&2; die "installing TimescaleDB failed"; }
}

cmd_install() {
    installed && return
    mkdir -p "$CACHE"
    # Two test runs at once must not build into the same tree.
    exec 9>"$CACHE/.lock"
    flock 9
    installed && return
    apt_update
    if [ -n "$(apt-cache madison "postgresql-$N-timescaledb" 2>/dev/null)" ]; then
        log "installing postgresql-$N-timescaledb from the machine's archive"
        apt_install "postgresql-$N-timescaledb"
    else
        build_from_source
    fi
    installed || die "TimescaleDB still not found in $("$BIN/pg_config" --pkglibdir) after install"
    log "TimescaleDB installed for PostgreSQL $N"
}

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

cmd_start() {
    if ready; then
        echo "$URL"
        return
    fi
    cmd_install

    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "no postgres OS user to run the cluster as"
    fi
    mkdir -p "$DATA"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DATA"; fi
    chmod 700 "$DATA"
    local out
    if [ ! -f "$DATA/PG_VERSION" ]; then
        log "creating a cluster in $DATA"
        out=$(as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 2>&1) || die "initdb failed: $out"
    elif [ "$(cat "$DATA/PG_VERSION")" != "$N" ]; then
        die "$DATA holds a PostgreSQL $(cat "$DATA/PG_VERSION") cluster, not $N; remove it"
    fi

    # Settings go on the command line rather than into postgresql.conf, so a change of
    # port or settings here takes effect at the next start without touching the data dir.
    local opts=(
        "-c port=$PORT" "-c listen_addresses=127.0.0.1" "-c unix_socket_directories=$DATA"
        "-c shared_preload_libraries=timescaledb" "-c timescaledb.telemetry_level=off"
        "-c fsync=off" "-c synchronous_commit=off" "-c full_page_writes=off"
    )
    log "starting PostgreSQL $N with TimescaleDB on 127.0.0.1:$PORT"
    as_pg "$BIN/pg_ctl" start -D "$DATA" -l "$DATA/server.log" -w -t 60 -o "${opts[*]}" >/dev/null \
        || die "the cluster did not start: $(tail -n 10 "$DATA/server.log" 2>/dev/null)"
    for _ in $(seq 60); do
        ready && { echo "$URL"; return; }
        sleep 0.5
    done
    die "the cluster started but does not accept connections on 127.0.0.1:$PORT"
}

cmd_stop() {
    if [ -f "$DATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" status -D "$DATA" >/dev/null; then
        as_pg "$BIN/pg_ctl" stop -D "$DATA" -m fast >/dev/null || die "pg_ctl stop failed"
        log "stopped"
    else
        log "not running"
    fi
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    *) die "usage: $ME install|start|stop|url" ;;
esac
