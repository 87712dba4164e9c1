"""One department's surprise never stops the county: the hub holds what is broken and publishes what is healthy."""

from __future__ import annotations

import datetime as dt

import pytest

from govhub import db

MARKER = "故障注入"  # the name of the one department record the injected fault trips on


def scalar(query: str, params=None):
    return db.query(query, params)[1][0][0]


@pytest.fixture(scope="module")
def published_county(tiny_county):
    assert scalar("select count(*) from ops.publication where gate_success") == 1


def test_a_build_that_fails_on_one_feeds_data_holds_that_feed_and_publishes_the_rest(published_county, monkeypatch):
    """A Python step that crashes on one health record (as `date too small` once did on a police birth date):
    the build holds health's new batches, rebuilds, and publishes every other department's new data."""
    from govhub import linkage
    from govhub.orchestrate import run_pipeline
    from govhub.sim import runner

    runner.advance(1)
    now = dt.datetime.now(dt.UTC)
    with db.connect("src_health") as conn:
        conn.execute("""insert into smd_patient (patient_id, id_card, name, sex, birth_date, diagnosis_code, risk_level,
                        management_status, address, last_followup_date, updated_at)
                        values ('FAULT-1', null, %s, 'M', '1970-01-01', 'F20', 1, 'in_management', '某地', null, %s)""",
                     (MARKER, now))
    original = linkage.link_probabilistically

    def crashes_on_the_marker(*args, **kwargs):
        if scalar("select count(*) from intermediate.int_person_records__unioned where person_name = %s", (MARKER,)):
            raise ValueError("date too small (before year 1)")  # what the department's record did to Python
        return original(*args, **kwargs)

    monkeypatch.setattr(linkage, "link_probabilistically", crashes_on_the_marker)
    outcomes = {o.dag_id: o for o in run_pipeline()}
    assert outcomes["warehouse_build"].state == "success"
    assert scalar("select count(*) from ops.publication where gate_success") == 2
    held = db.query("select batch_id, feed, object, reason from ops.held_batch")[1]
    assert held and {f for _, f, _, _ in held} == {"health"}  # civil, tried first, was taken back
    # held at object level: the health objects the failing step reads (the patient register), not follow-ups
    assert "smd_patient" in {o for _, _, o, _ in held} and "smd_followup" not in {o for _, _, o, _ in held}
    assert all("warehouse build failed" in r and "Fix:" in r for _, _, _, r in held)
    # the healthy departments' new batches are in the new version; health's are not
    batches = set(scalar("select batches from ops.publication order by version desc limit 1"))
    new = dict(db.query("""select batch_id, feed from ops.batch where status = 'succeeded'
                           and finished_at > (select published_at from ops.publication where version = 1)""")[1])
    assert not {b for b, _, _, _ in held} & batches
    assert {f for b, f in new.items() if b in batches} >= {"police", "grid", "justice", "civil"}
    message = scalar("select message from ops.publication order by version desc limit 1")
    assert "health" in message and "hub release health" in message
    # the surprise is named where department officers and operators look
    from govhub.quality.surprises import collect

    assert collect()["health"]["held"]


def test_hub_status_names_what_was_held_and_how_to_release_it(published_county, capsys):
    from govhub import cli

    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "health" in out and "hub release" in out


def test_a_build_the_machine_stops_holds_no_department(published_county):
    """PostgreSQL out of temporary space (a city's address matching filled the disk): no department's data caused
    it, so no feed is held for it, even with new batches waiting; the error names the model and the fix once."""
    from govhub import pipeline, transform
    from govhub.extract.registry import load_registry
    from govhub.sim import runner

    runner.advance(1)
    for name in load_registry():
        pipeline.extract(name)
    pipeline.gate_feeds("test-machine-fault")
    assert pipeline._new_batches({("police", "RK_CZRK")})  # a batch a data hold would have taken
    database = scalar("select current_database()")
    # any statement that needs a temporary file fails, as on a full disk
    db.query(f'alter database "{database}" set temp_file_limit = 0')
    db.query(f'alter database "{database}" set work_mem = \'64kB\'')
    try:
        with pytest.raises(pipeline.MachineFault) as stopped:
            pipeline.with_holds(
                lambda retry: transform.run_dbt(["run", "--full-refresh", "--select", "int_person_records__unioned"]),
                pipeline._dbt_failures, "test-machine-fault", "build")
    finally:
        db.query(f'alter database "{database}" reset temp_file_limit')
        db.query(f'alter database "{database}" reset work_mem')
    message = str(stopped.value)
    assert "temp_file_limit" in message
    assert message.count("Fix:") == 1 and "Nothing was held" in message
    assert scalar("select count(*) from ops.batch_hold where run_id = 'test-machine-fault'") == 0


def test_machine_faults_are_told_from_data_errors():
    from govhub.pipeline import machine_fault

    assert machine_fault('could not write to file "base/pgsql_tmp/pgsql_tmp26770.467": No space left on device')
    assert machine_fault("FATAL: sorry, too many clients already")
    assert machine_fault('temporary file size exceeds "temp_file_limit" (0kB)')
    assert machine_fault("ERROR: out of memory DETAIL: Failed on request of size 8192")
    for data_error in ('invalid input syntax for type date: "2024-13-01"', "date too small (before year 1)",
                       'duplicate key value violates unique constraint "x_pkey"', "division by zero"):
        assert machine_fault(data_error) is None
