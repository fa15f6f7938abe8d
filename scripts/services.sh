#!/usr/bin/env bash
# Make sure the servers the tests use are running: start PostgreSQL, MariaDB, RabbitMQ and
# Redis (the Celery broker and result backend of the scale-out tests) when they are
# installed but stopped. A server that is not installed is reported; the
# tests then fail under CI=true and skip elsewhere (see tests/servers.py).
set -u

pg_up()    { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
rabbit_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) >/dev/null 2>&1; }
redis_up()  { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
maria_up() { mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 || mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1; }

wait_for() {  # name, check function
  for _ in $(seq 1 120); do "$2" && return 0; sleep 0.5; done
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
if ! rabbit_up; then
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "services: starting RabbitMQ"
    (rabbitmq-server -detached >/dev/null 2>&1 || rabbitmq-server >/dev/null 2>&1 &)
    wait_for RabbitMQ rabbit_up
  else
    echo "services: RabbitMQ is not installed" >&2
  fi
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 >/dev/null
    wait_for Redis redis_up
  else
    echo "services: Redis is not installed" >&2
  fi
fi
exit 0
