# Postgres 15 with pgBackRest (Debian's package), for the compose stack's continuous backup.
FROM postgres:15-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends pgbackrest \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres /var/lib/pgbackrest /var/log/pgbackrest /var/spool/pgbackrest
COPY deploy/pgbackrest.conf /etc/pgbackrest/pgbackrest.conf
