"""Feed endpoints come from Airflow's connection API: the metadata database, env vars, secrets backends.

A connection defined only in the metadata database (as ``airflow connections add`` or the UI writes it) is the one
the extract reads; a missing one is an error naming the connection id and how to define it — never the simulator.
"""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from govhub import db
from govhub.extract.connections import (
    ConnectionMissing,
    define_simulator_connections,
    files_directory,
    http_endpoint,
    sql_connect,
)
from govhub.extract.registry import feed
from tests.conftest import reset_warehouse

ELSEWHERE = "police_elsewhere"


def dbname(f) -> str:
    with sql_connect(f) as conn:  # PostgresHook, from the connection Airflow resolved
        return conn.info.dbname


def _store(conn_id: str, **fields) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == conn_id).delete()
        if fields:
            session.add(Connection(conn_id=conn_id, **fields))


@pytest.fixture
def police_elsewhere(hub_env, monkeypatch):
    """A police database the simulator knows nothing of: one RK_CZRK row, reachable only through the
    ``police_db`` connection stored in Airflow's metadata database."""
    monkeypatch.delenv("AIRFLOW_CONN_POLICE_DB", raising=False)
    reset_warehouse()
    with db.connect("postgres", autocommit=True) as conn:
        conn.execute(f"drop database if exists {ELSEWHERE}")
        conn.execute(f"create database {ELSEWHERE}")
    columns = feed("police").objects["RK_CZRK"].columns
    with psycopg.connect(db.server().conninfo(ELSEWHERE)) as conn:
        conn.execute(f'create table "RK_CZRK" ({", ".join(f"{c} text" for c in columns)})')
        values = {c: "" for c in columns} | {"RYBH": "FROM-METADATA-DB", "XM": "张三", "GXSJ": "20260101120000"}
        conn.execute(f'insert into "RK_CZRK" ({", ".join(values)}) values ({", ".join(["%s"] * len(values))})',
                     list(values.values()))
    address = db.server()
    _store("police_db", conn_type="postgres", host=address.host, port=address.port, login=address.user,
           schema=ELSEWHERE, description="the county's police database (defined by an operator)")
    yield
    _store("police_db")
    define_simulator_connections()
    reset_warehouse()


def test_police_connection_in_the_metadata_database_is_the_one_the_extract_reads(police_elsewhere):
    from govhub.extract.run import extract_feed

    assert dbname(feed("police")) == ELSEWHERE
    [result] = extract_feed("police", objects=["RK_CZRK"])
    assert result.loaded == 1
    assert db.query("select rybh from raw.police__rk_czrk")[1] == [("FROM-METADATA-DB",)]
    # `hub up` refreshes the simulated connections but never overwrites one an operator defined
    assert "police_db" not in define_simulator_connections()
    assert dbname(feed("police")) == ELSEWHERE


def test_a_missing_connection_is_an_error_naming_it_and_how_to_define_it(hub_env, monkeypatch):
    missing = dataclasses.replace(feed("police"), connection="police_prod")
    monkeypatch.delenv("AIRFLOW_CONN_POLICE_PROD", raising=False)
    with pytest.raises(ConnectionMissing) as err:
        sql_connect(missing)
    message = str(err.value)
    assert "'police_prod' is not defined" in message
    assert "airflow connections add police_prod --conn-type postgres" in message
    assert "AIRFLOW_CONN_POLICE_PROD=postgres://" in message
    assert not err.value.retryable  # Airflow fails the task at once: no retry can define it


def test_env_connections_and_their_types(hub_env, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_JUSTICE_API", "https://hub%40x:s%2Fecret@api.example:8443/gw")
    assert http_endpoint(feed("justice")) == ("https://api.example:8443/gw", "hub@x", "s/ecret")
    monkeypatch.setenv("AIRFLOW_CONN_CIVIL_DROPS", f'{{"conn_type": "fs", "extra": {{"path": "{tmp_path}"}}}}')
    assert files_directory(feed("civil")) == str(tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_PETITION_EXPORTS", f"file://{tmp_path}/petition")
    assert files_directory(feed("petition")) == f"{tmp_path}/petition"
    monkeypatch.setenv("AIRFLOW_CONN_GRID_DB", "https://not-a-database.example")
    with pytest.raises(ConnectionMissing, match="needs 'postgres'"):
        sql_connect(feed("grid"))
