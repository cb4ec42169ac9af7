#!/usr/bin/env bash
# What `pip install -e '.[test]'` needs from the system before it runs: mysqlclient
# has no Linux wheel and compiles against the MariaDB/MySQL client library, found
# through pkg-config (Debian: libmariadb-dev, pkg-config). Installed from Debian's
# packages when missing, as root; otherwise says what to install.
set -u

if pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists mariadb 2>/dev/null \
    || pkg-config --exists libmariadb 2>/dev/null; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    for attempt in 1 2; do
        if apt-get install -y -qq libmariadb-dev pkg-config >/dev/null 2>&1; then
            echo "build-deps: installed libmariadb-dev and pkg-config (for mysqlclient)"
            exit 0
        fi
        # A machine that never ran apt-get update has no package lists yet.
        [ "$attempt" = 1 ] && apt-get update -qq >/dev/null 2>&1
    done
fi
echo "build-deps: mysqlclient needs the MariaDB/MySQL client headers and pkg-config" \
    "(Debian: apt-get install libmariadb-dev pkg-config); install them and run again" >&2
exit 1
