#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer; starts them if not.
set -euo pipefail
ready_pg() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
ready_redis() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
wait_for() { # name, check: polls until the service answers or 30 s pass
  for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
  echo "$1 did not become ready on 127.0.0.1" >&2; return 1
}
if ! ready_pg; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  wait_for PostgreSQL ready_pg
fi
if ! ready_redis; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/vetted.log
  wait_for Redis ready_redis
fi
