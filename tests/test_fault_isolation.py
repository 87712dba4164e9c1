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
