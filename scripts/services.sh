#!/usr/bin/env bash
# Make sure the servers the tests use are running: start PostgreSQL, MariaDB, RabbitMQ and
# Redis (the Celery broker and result backend of the scale-out tests) when they are
# installed but stopped. A server that is not installed is reported; the tests then fail
# under CI=true and skip elsewhere (see tests/servers.py).
set -u

pg_up()     { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
maria_up()  { mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 || mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1; }
rabbit_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) >/dev/null 2>&1; }
redis_up()  { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }

pg_installed()     { command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; }
maria_installed()  { [ -x /usr/sbin/mariadbd ]; }
rabbit_installed() { command -v rabbitmq-server >/dev/null 2>&1; }
redis_installed()  { command -v redis-server >/dev/null 2>&1; }

pg_start()     { for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done; }
maria_start()  { start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd; }
rabbit_start() { rabbitmq-server -detached >/dev/null 2>&1; }
redis_start()  { redis-server --daemonize yes --bind 127.0.0.1 --port 6379 >/dev/null; }

wait_for() {  # name, check function
  for _ in $(seq 1 120); do "$2" && return 0; sleep 0.5; done
  echo "services: $1 did not come up" >&2; return 1
}

ensure() {  # name, prefix of its functions (<prefix>_up, _installed, _start)
  "$2_up" && return 0
  if "$2_installed"; then
    echo "services: starting $1"
    "$2_start"
    wait_for "$1" "$2_up"
  else
    echo "services: $1 is not installed" >&2
  fi
}

ensure PostgreSQL pg
ensure MariaDB maria
ensure RabbitMQ rabbit
ensure Redis redis
exit 0
