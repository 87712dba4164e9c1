#!/bin/bash
# Airflow's metadata database gets its own login (docker-compose.yml): the Airflow services reach it without the
# warehouse admin's password. Runs once, when the postgres volume is initialised (after 10-hub-databases.sql).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v pw="$AIRFLOW_PG_PASSWORD" <<'SQL'
create role airflow login password :'pw';
alter database airflow owner to airflow;
SQL
