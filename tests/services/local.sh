#!/usr/bin/env bash
# Make sure the machine's own PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are up
# for the tests. The dev machines and CI start both before a session, but either may have
# stopped since; the start commands are the ones the machine itself uses. Quiet when all is
# well.
set -Eeuo pipefail

ME=$(basename "$0")
log() { echo "$ME: $*" >&2; }
die() { log "error: $*"; exit 1; }
trap 'log "error: failed at line $LINENO: $BASH_COMMAND"' ERR

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

# Wait up to 30 s for "$@" to succeed.
wait_for() {
    for _ in $(seq 60); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

# A machine without them at all (not this kind, but possible): install Debian's packages.
missing=()
[ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
    if [[ " ${missing[*]} " == *" postgresql "* ]]; then
        # A fresh Debian cluster wants passwords over TCP; the tests connect as postgres
        # without one, as on the dev machines. Only a cluster we just installed is changed.
        sed -ri 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' \
            /etc/postgresql/*/main/pg_hba.conf
        pg_up && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main reload
    fi
fi

if ! pg_up; then
    log "PostgreSQL is down; starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start \
        || die "PostgreSQL did not start"
    wait_for pg_up || die "PostgreSQL does not answer on 127.0.0.1:5432"
fi

# The read-replica tests copy this cluster with pg_basebackup, which takes a replication
# connection; "all" in pg_hba.conf does not cover those. Allow them from this host, as the
# postgres user, as every other local connection is already allowed; first in the file,
# as the first line that matches decides.
hba=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW hba_file')
if ! grep -Eq '^host replication postgres 127\.0\.0\.1/32 trust' "$hba"; then
    log "allowing replication connections from 127.0.0.1 in $hba"
    sed -i '1i host replication postgres 127.0.0.1/32 trust' "$hba"
    psql -h 127.0.0.1 -U postgres -Atqc 'SELECT pg_reload_conf()' >/dev/null
fi

if ! redis_up; then
    log "Redis is down; starting it"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null \
        || die "Redis did not start"
    wait_for redis_up || die "Redis does not answer on 127.0.0.1:6379 (log: /var/log/redis/ci.log)"
fi
