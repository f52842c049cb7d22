#!/bin/sh
# Runs once, when the Postgres container first creates its data: the login role Grafana uses, a
# member of dripcast_readonly (which the migrations grant SELECT on campaign data).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dripcast_readonly') THEN
        CREATE ROLE dripcast_readonly NOLOGIN;
    END IF;
END
\$\$;
CREATE ROLE grafana LOGIN PASSWORD '${GRAFANA_DB_PASSWORD}' IN ROLE dripcast_readonly;
SQL
