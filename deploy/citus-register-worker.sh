#!/usr/bin/env bash
# A Citus worker container: start PostgreSQL with Citus, then add this node to the coordinator's metadata
# (idempotent: citus_add_node returns the existing node id when the node is already known).
set -euo pipefail
docker-entrypoint.sh postgres &
server=$!
until pg_isready -q -U "$POSTGRES_USER" -d "$POSTGRES_DB"; do sleep 1; done
until PGPASSWORD="$POSTGRES_PASSWORD" psql -q -h "$CITUS_COORDINATOR" -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
    -c "select citus_add_node('$(hostname -i | awk '{print $1}')', 5432)"; do sleep 2; done
wait "$server"
