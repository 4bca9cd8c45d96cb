#!/usr/bin/env bash
# `make run`: migrate, load the demo district, start the fake WeChat and serve with gunicorn.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export CIVICDESK_ENV=${CIVICDESK_ENV:-development}
mkdir -p var

$BIN/civicdesk db upgrade
$BIN/civicdesk demo load

export PROMETHEUS_MULTIPROC_DIR="$PWD/var/prometheus"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

$BIN/python -m service.wechat.fake --host 127.0.0.1 --port 8001 &
FAKE_PID=$!
# one worker beside gunicorn: delivers the outbox (subscribe messages, staff notifications) and runs the jobs
$BIN/civicdesk worker &
WORKER_PID=$!
trap 'kill $WORKER_PID $FAKE_PID 2>/dev/null || true' EXIT INT TERM

cat <<MSG

civicdesk is starting on http://127.0.0.1:8000 (API browser: http://127.0.0.1:8000/api/docs)
Fake WeChat on http://127.0.0.1:8001 (sent messages: http://127.0.0.1:8001/__fake__/subscribe-messages)
Worker running beside it (civicdesk worker): subscribe messages, staff notifications, reminders

Log in as a resident (any code of the form dev-<name>):
  curl -s -X POST http://127.0.0.1:8000/mp/v1/auth/login -H 'Content-Type: application/json' -d '{"code": "dev-alice"}'
Log in as staff:
  curl -s -X POST http://127.0.0.1:8000/console/v1/auth/login -H 'Content-Type: application/json' \\
       -d '{"username": "admin", "password": "civicdesk-demo"}'

MSG
$BIN/gunicorn -c gunicorn.conf.py wsgi:app
