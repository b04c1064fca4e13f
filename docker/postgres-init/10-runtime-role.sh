#!/bin/sh
# Create the role web, worker and beat connect as (APP_DB_USER, APP_DB_PASSWORD).
#
# The postgres image runs this once, when it initialises an empty data directory,
# as POSTGRES_USER, the superuser that owns the database and, through the migrate
# job, every table. The role made here owns nothing and is no superuser, so the
# audit trail's append-only triggers bind it; `manage.py grant_runtime_role`,
# which the migrate job runs after every migrate, gives it its privileges.
# Run again by hand it changes nothing but the password (docs/operations.md).
set -eu
: "${APP_DB_USER:?set APP_DB_USER}" "${APP_DB_PASSWORD:?set APP_DB_PASSWORD}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="$APP_DB_USER" -v password="$APP_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format(
    'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
    :'role', :'password'
) \gexec
SQL
