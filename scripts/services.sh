#!/usr/bin/env bash
# Make sure the database servers the tests use are running: start PostgreSQL and MariaDB
# when they are installed but stopped. A server that is not installed is reported; the
# tests then fail under CI=true and skip elsewhere (see tests/servers.py).
set -u

pg_up()    { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
maria_up() { mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 || mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1; }

wait_for() {  # name, check function
  for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
  echo "services: $1 did not come up" >&2; return 1
}

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "services: starting PostgreSQL"
    for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
    wait_for PostgreSQL pg_up
  else
    echo "services: PostgreSQL is not installed" >&2
  fi
fi

if ! maria_up; then
  if [ -x /usr/sbin/mariadbd ]; then
    echo "services: starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for MariaDB maria_up
  else
    echo "services: MariaDB is not installed" >&2
  fi
fi
exit 0
