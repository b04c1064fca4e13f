#!/usr/bin/env bash
# Set up and serve Countersign with demo data; stop everything on Ctrl-C.
#
# The setup, the Celery worker and the web server write to log files under
# var/log/; the terminal shows where to go and who to sign in as.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-8000}"
BIN=.venv/bin
VAR="${COUNTERSIGN_VAR_DIR:-var}"
ENV_FILE="${COUNTERSIGN_ENV_FILE:-.env}"
LOG="$VAR/log"
URL="http://127.0.0.1:${PORT}"
mkdir -p "$VAR/celery/queue" "$VAR/celery/processed" "$VAR/celery/control" "$LOG"

# Development secrets for this checkout, read by config/settings.py when the
# environment sets no SECRET_KEY: manage.py commands then work without exports.
if [ ! -f "$ENV_FILE" ]; then
  cat >"$ENV_FILE" <<ENV
# Written by make run for this development checkout; not read when SECRET_KEY is set.
DEBUG=1
SECRET_KEY=$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(50))')
ENV
fi

# Pages are served as a deployment serves them, with DEBUG off: the app's own
# 404, 403 and 500 pages, never Django's technical pages that list every URL and
# setting. What DEBUG off would add for production is left out on this machine:
# plain HTTP, no HTTPS redirect, no secure-only cookies, no HSTS. `make run
# DEBUG=1` shows Django's technical pages to whoever works on the code.
export DEBUG="${DEBUG:-0}"
export SECURE_SSL_REDIRECT="${SECURE_SSL_REDIRECT:-0}"
export SESSION_COOKIE_SECURE="${SESSION_COOKIE_SECURE:-0}"
export CSRF_COOKIE_SECURE="${CSRF_COOKIE_SECURE:-0}"
export SECURE_HSTS_SECONDS="${SECURE_HSTS_SECONDS:-0}"

# Each step runs only once the one before succeeded: `set -e` does not reach inside an
# `if` condition, so the steps are chained with && and the first failure ends setup.
setup() {
  $BIN/python manage.py migrate --noinput &&
    # Copy the beat schedule of config/schedule.py into the admin-editable tables.
    $BIN/python manage.py sync_schedule &&
    $BIN/python manage.py load_checklists &&
    # With DEBUG off the pages link static files through collectstatic's manifest; --clear
    # drops files a newer checkout no longer ships, so none is served past its removal.
    $BIN/python manage.py collectstatic --noinput --clear &&
    $BIN/python manage.py seed_demo
}

echo "Setting up Countersign (log: $LOG/setup.log) ..."
if ! setup >"$LOG/setup.log" 2>&1; then
  tail -n 40 "$LOG/setup.log" >&2
  echo "Setup failed; the whole log is $LOG/setup.log." >&2
  exit 1
fi

$BIN/celery -A config worker -B --loglevel=INFO --concurrency=1 \
  --schedule="$VAR/celerybeat-schedule" >"$LOG/celery.log" 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM

# Say where to go once the server answers, not before.
(
  if $BIN/python scripts/wait_for_http.py "$URL/healthz"; then
    cat <<MSG

  Countersign is ready at ${URL}/
  Sign in as one of these demo users:

MSG
    $BIN/python manage.py seed_demo --list-logins
    cat <<MSG

  Django admin: ${URL}/admin/ (as admin)   API docs: ${URL}/api/v1/docs/
MSG
    if [ -z "${REDIS_URL:-}" ] && ! grep -qs '^REDIS_URL=.' "$ENV_FILE"; then
      cat <<MSG
  Runtime decisions are answered but not counted (no usage, no drift from denied
  uses): REDIS_URL is not set. REDIS_URL=redis://127.0.0.1:6379/0 make run counts them.
MSG
    fi
    cat <<MSG
  Logs: $LOG/web.log, $LOG/celery.log, $LOG/setup.log   Stop with Ctrl-C.
MSG
  else
    echo "The server did not answer at $URL; see $LOG/web.log." >&2
  fi
) &

$BIN/python manage.py runserver "127.0.0.1:${PORT}" >"$LOG/web.log" 2>&1
