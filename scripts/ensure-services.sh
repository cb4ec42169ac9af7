#!/usr/bin/env bash
# Make sure the services the test suite talks to answer, starting any that do not.
# The commands are the ones DEVELOPERS.md gives; each check waits up to 30 s.
set -u

wait_for() {  # name, check command
    local name=$1; shift
    for _ in $(seq 1 60); do
        if "$@" >/dev/null 2>&1; then echo "services: $name is up"; return 0; fi
        sleep 0.5
    done
    echo "services: $name did not come up" >&2
    return 1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
mysql_up() { mysqladmin --connect-timeout=2 -h127.0.0.1 -uroot ping >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG; }

status=0
if ! pg_up; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
wait_for PostgreSQL pg_up || status=1

# HypoPG lets the database advisor try indexes without building them; the rolled-back
# CREATE INDEX path covers machines without it, so a missing package is not an error.
pg_version=$(ls /etc/postgresql 2>/dev/null | head -n1)
if [ -n "$pg_version" ] && ! dpkg -s "postgresql-$pg_version-hypopg" >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
        && apt-cache show "postgresql-$pg_version-hypopg" >/dev/null 2>&1; then
        apt-get install -y -qq "postgresql-$pg_version-hypopg" >/dev/null \
            && echo "services: installed postgresql-$pg_version-hypopg" \
            || echo "services: could not install postgresql-$pg_version-hypopg; the advisor verifies with rolled-back indexes"
    else
        echo "services: postgresql-$pg_version-hypopg is not available here; the advisor verifies with rolled-back indexes"
    fi
fi

if ! mysql_up; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
wait_for MariaDB mysql_up || status=1

if ! redis_up; then
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
wait_for Redis redis_up || status=1

exit $status
