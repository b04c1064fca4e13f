#!/usr/bin/env bash
# Set up and serve Countersign with demo data; stop everything on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-8000}"
BIN=.venv/bin
mkdir -p var/celery/queue var/celery/processed var/celery/control var/celery/results

# Development secrets for this checkout, read by config/settings.py when the
# environment sets no SECRET_KEY: manage.py commands then work without exports.
if [ ! -f .env ]; then
  cat >.env <<ENV
# Written by make run for this development checkout; not read when SECRET_KEY is set.
DEBUG=1
SECRET_KEY=$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(50))')
ENV
fi

$BIN/python manage.py migrate --noinput
# Copy the beat schedule of config/schedule.py into the admin-editable tables.
$BIN/python manage.py sync_schedule
$BIN/python manage.py load_checklists
$BIN/python manage.py seed_demo

$BIN/celery -A config worker -B --loglevel=INFO --concurrency=1 \
  --schedule=var/celerybeat-schedule >var/celery.log 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM

cat <<MSG

  Countersign is at http://127.0.0.1:${PORT}/   (admin: http://127.0.0.1:${PORT}/admin/)
  Celery worker with beat: pid ${WORKER}, log var/celery.log

  Demo logins (password for all: countersign-demo)
MSG
$BIN/python manage.py seed_demo --list-logins
echo
$BIN/python manage.py runserver "127.0.0.1:${PORT}"
