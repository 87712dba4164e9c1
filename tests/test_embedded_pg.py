"""The embedded PostgreSQL bounds the temporary space one process may take (a runaway sort fails alone)."""

from __future__ import annotations

from govhub import db, embedded_pg


def test_the_running_server_limits_temporary_files(hub_env):
    limit = db.query("select setting::bigint, unit from pg_settings where name = 'temp_file_limit'")[1][0]
    assert limit[1] == "kB" and limit[0] > 0  # not -1 (unlimited, PostgreSQL's default)


def test_the_limit_is_a_third_of_the_free_disk_unless_configured(tmp_path, monkeypatch):
    import shutil

    monkeypatch.delenv("HUB_PG_TEMP_FILE_LIMIT", raising=False)
    free_kb = shutil.disk_usage(tmp_path).free // 1024
    derived = int(embedded_pg.temp_file_limit(tmp_path).removesuffix("kB"))
    assert abs(derived - max(1024 * 1024, free_kb // 3)) <= 1024 * 1024  # free space moves while tests run
    monkeypatch.setenv("HUB_PG_TEMP_FILE_LIMIT", "20GB")
    assert embedded_pg.temp_file_limit(tmp_path) == "20GB"
