"""End to end on the embedded PostgreSQL: simulated county -> real Airflow DAGs -> dbt -> GX -> published."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import yaml

from govhub import db
from govhub.settings import TRUTH_DB

ID18 = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])")


def scalar(query: str, params=None, database: str = "warehouse"):
    return db.query(query, params, database=database)[1][0][0]


@pytest.fixture(scope="module")
def first_pass(tiny_county):
    """The tiny county's first pass through `hub demo`'s console (tests/conftest.py runs it once per process)."""
    SHOWN[:] = [tiny_county.console]
    return tiny_county.outcomes


SHOWN: list[str] = []  # what the console showed
DEMO_HEADER_LINES = 6  # title, log path, PostgreSQL, justice API, connections, generated county (cli.cmd_demo)


def test_the_demo_console_shows_every_task_in_at_most_60_lines(first_pass):
    lines = SHOWN[0].splitlines()
    assert len(lines) + DEMO_HEADER_LINES <= 60, SHOWN[0]
    tasks = {(o.dag_id, t) for o in first_pass for t in o.tasks}
    for _, task_id in tasks:  # one line per task with its state, under its DAG
        assert any(line.split()[:2] == [task_id, "success"] for line in lines), task_id
    police = next(line for line in lines if line.split()[0] == "extract_police").split()
    assert police[1] == "success" and int(police[2].replace(",", "")) == scalar(
        "select sum(received) from ops.batch where feed = 'police'")
    assert any(line.strip().startswith("total: 7 DAGs") for line in lines)
    assert any(line.startswith("published version 1: ") for line in lines)
    assert not any("Calculating Metrics" in line or "START sql" in line for line in lines)


def test_pipeline_publishes_every_table(first_pass):
    assert [o.state for o in first_pass] == ["success"] * len(first_pass)
    tables = {r[0] for r in db.query("select tablename from pg_tables where schemaname = 'published'")[1]}
    assert {"dim_division", "dim_grid", "dim_resident", "fct_event", "bridge_event_resident", "bridge_resident_tag",
            "dim_place"} <= tables
    assert scalar("select count(*) from published.dim_grid") == 1020
    assert scalar("select count(*) from published.dim_division") == 1 + 19 + 182
    assert scalar("select count(*) from ops.publication where gate_success") == 1


def test_published_residents_and_events_match_the_sources(first_pass):
    persons_in_police = scalar("select count(*) from raw.police__rk_czrk") + scalar("select count(*) from raw.police__rk_ldrk")
    residents = scalar("select count(*) from published.dim_resident")
    # every police person record is one resident, give or take the records linkage could not join
    other_person_records = sum(scalar(f'select count(distinct _record_key) from raw."{t}"') for t in (
        "police__zdry", "health__smd_patient", "health__death_cert", "justice__corrections", "justice__resettlement",
        "petition__petition", "civil__低保对象", "civil__特困人员", "civil__残疾人", "civil__留守人员"))
    assert 0.97 * persons_in_police <= residents <= persons_in_police + other_person_records
    # one event per real-world case of every department (a petition once, whatever its re-deliveries)
    for source, raw_ids in (("police", "select count(distinct jjbh) from raw.police__jq_jjxx"),
                            ("grid", "select count(distinct event_id) from raw.grid__grid_event"),
                            ("mediation", "select count(distinct caseid) from raw.justice__mediations"),
                            ("petition", "select count(distinct id) from raw.petition__petition"),
                            ("health", "select count(distinct followup_id) from raw.health__smd_followup")):
        expected = scalar(raw_ids)
        assert expected > 0, source
        assert scalar("select count(*) from published.fct_event where source = %s", (source,)) == expected, source
    with_grid = scalar("select avg((grid_key is not null)::int) from published.fct_event")
    assert with_grid >= 0.98


TAG_CODES = {"community_correction", "released_prisoner", "smd_patient", "drug_rehab", "key_person",
             "subsistence_allowance", "extreme_poverty", "disabled", "left_behind"}


def test_person_tags_cover_every_special_population(first_pass):
    tags = {r[0] for r in db.query("select distinct tag_code from published.bridge_resident_tag")[1]}
    assert tags == TAG_CODES  # the simulated county has people of every special population
    # the tag a department asserts is the one its register holds
    by_source = set(db.query("select distinct tag_code, source from published.bridge_resident_tag")[1])
    assert {("community_correction", "justice"), ("released_prisoner", "justice"), ("smd_patient", "health"),
            ("drug_rehab", "police"), ("subsistence_allowance", "civil"), ("disabled", "civil")} <= by_source
    assert scalar("select count(*) from published.bridge_resident_tag where valid_to < valid_from") == 0
    # most departments' addresses resolve to a grid
    assert scalar("select avg((grid_key is not null)::int) from published.bridge_resident_tag") >= 0.8
    departments = {d for r in db.query("select distinct unnest(departments) from published.dim_resident")[1] for d in r}
    assert {"police", "health", "justice", "civil", "petition"} <= departments


def test_resident_flags_count_the_current_registers(first_pass):
    # recomputed from raw, independently of the models: latest version per case, linked through resident_xref
    active_corrections = scalar(
        """select count(distinct x.resident_key) from (
               select distinct on (caseid) caseid, status from raw.justice__corrections
               order by caseid, updatedat::timestamptz desc) as c
           join linkage.resident_xref as x
             on x.source = 'justice' and x.source_object = 'corrections' and x.source_record_id = c.caseid
           where c.status = 'active'""")
    assert active_corrections > 0
    assert scalar("select count(*) from published.dim_resident where is_community_correction") == active_corrections
    # 低保: listed in the latest drop (last change record not 'ended') and 在保 in that version
    in_allowance = scalar(
        """select count(distinct x.resident_key)
           from (select distinct on (record_key) record_key, change, row_hash from raw."civil__低保对象__changes"
                 order by record_key, drop_date desc) as c
           join raw."civil__低保对象" as v on v._record_key = c.record_key and v._row_hash = c.row_hash
           join linkage.resident_xref as x
             on x.source = 'civil' and x.source_object = '低保对象' and x.source_record_id = c.record_key
           where c.change <> 'ended' and v."状态" = '在保'""")
    assert in_allowance > 0
    assert scalar("select count(*) from published.dim_resident where is_subsistence_allowance") == in_allowance
    for code in TAG_CODES:
        flagged = scalar(f"select count(*) from published.dim_resident where is_{code}")
        current = scalar("select count(distinct resident_key) from published.bridge_resident_tag "
                         "where tag_code = %s and valid_to is null", (code,))
        assert flagged == current, code


def test_dim_place_has_one_row_per_building(first_pass):
    buildings = scalar("select count(distinct building_id) from raw.grid__building")
    assert scalar("select count(*) from published.dim_place") == buildings
    assert scalar("select count(distinct place_key) from published.dim_place") == buildings
    housed = scalar("select sum(resident_count) from published.dim_place")
    living = scalar("select count(*) from published.dim_resident where not is_deceased")
    assert 0.5 * living <= housed <= living
    # a place's residents live in the place's grid
    assert scalar(
        """select count(*) from published.dim_place as p join published.dim_grid as g on g.grid_key = p.grid_key
           where p.resident_count > g.resident_count""") == 0


def test_every_batch_reconciles(first_pass):
    bad = scalar("select count(*) from ops.batch where status = 'succeeded' and received <> loaded + quarantined")
    assert bad == 0
    assert scalar("select count(*) from ops.batch where status = 'succeeded'") >= 9
    from govhub.extract.registry import load_registry

    # every department of the registry delivered: sql, files (civil CSV/XLSX, petition XML) and http (justice)
    loaded = {r[0] for r in db.query("select distinct feed from ops.batch where status = 'succeeded' and loaded > 0")[1]}
    assert loaded == set(load_registry())


def test_no_clear_id_numbers_or_names_in_published(first_pass):
    true_names = {r[0] for r in db.query("select name from truth_person", database=TRUTH_DB)[1] if len(r[0]) >= 2}
    for schema, table in db.query("select schemaname, tablename from pg_tables where schemaname = 'published'")[1]:
        columns, rows = db.query(f'select * from {schema}."{table}"')
        for row in rows:
            for value in row:
                text = str(value)
                assert not ID18.search(text), (table, text)
                assert text not in true_names, (table, "full name in clear")


def test_measures_reconcile_with_events(first_pass):
    months = scalar("select count(distinct month) from published.agg_grid_month")
    assert months == 24
    assert scalar("select count(*) from published.agg_grid_month") == 1020 * months
    # the county row counts every case of its month; grids count the cases placed on a grid
    mismatched = scalar(
        """select count(*) from published.agg_division_month as a
           left join (select date_trunc('month', occurred_at at time zone 'Asia/Shanghai')::date as month,
                             count(*) as n, count(*) filter (where grid_key is not null) as on_grid
                      from published.fct_event where source <> 'health' group by 1) as e on e.month = a.month
           where a.division_level = 'county' and a.events <> coalesce(e.n, 0)""")
    assert mismatched == 0
    on_grids = scalar("select sum(events) from published.agg_grid_month")
    assert on_grids == scalar("select count(*) from published.fct_event where source <> 'health' and grid_key is not null "
                              "and occurred_at >= (select min(month) from published.agg_grid_month)")
    assert on_grids > 0
    rates = db.query("select min(close_rate), max(close_rate), min(mediation_success_rate), max(mediation_success_rate) "
                     "from published.agg_division_month")[1][0]
    assert all(r is None or 0 <= r <= 1 for r in rates)
    county_close = db.query("""select sum(events_closed)::numeric / nullif(sum(events), 0) from published.agg_division_month
                               where division_level = 'county'""")[1][0][0]
    assert 0 < county_close <= 1


def test_warnings_follow_their_levels_and_deadlines(first_pass):
    from govhub.transform import DBT_DIR

    deadlines = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())["vars"]["warning_deadline_hours"]
    levels = ["grid", "village", "township", "county"]
    rows = db.query("""select rule, base_level, escalation_level, first_seen_at, coalesce(resolved_at, (
                           select as_of from intermediate.int_warnings__as_of)) from published.risk_warning""")[1]
    assert len({r[0] for r in rows}) >= 3  # most rules fire on the simulated county
    for rule, base, level, first_seen, until in rows:
        age_hours = (until - first_seen).total_seconds() / 3600
        expected = levels.index(base)
        budget = 0.0
        while expected < 3:
            budget += deadlines[levels[expected]]
            if age_hours < budget:
                break
            expected += 1
        assert level == levels[expected], (rule, base, age_hours, level)
    # each level's queue adds up: open warnings at the as-of day per level = open warnings at that level
    open_now = dict(db.query("""select escalation_level, count(*) from published.risk_warning
                                where resolved_at is null group by 1""")[1])
    queue = dict(db.query("""select level, sum(open_warnings) from published.agg_warning_level
                             where day = (select max(day) from published.agg_warning_level) group by 1""")[1])
    assert {k: v for k, v in queue.items() if v} == open_now
    # signals name departments, never people
    assert scalar("select count(*) from published.risk_warning where signals::text ~ '[0-9]{17}[0-9Xx]'") == 0


def test_restricted_rows_follow_the_officials_jurisdiction(first_pass):
    import psycopg

    township, in_township = db.query("""select township_code, count(*) from restricted.restricted_resident
                                        where township_code is not null group by 1 order by 2 desc limit 1""")[1][0]
    with db.connect() as conn:
        conn.execute("""do $$ begin
            if not exists (select from pg_roles where rolname = 'official_test_township') then
                create role official_test_township nologin; end if;
            if not exists (select from pg_roles where rolname = 'official_test_none') then
                create role official_test_none nologin; end if;
        end $$""")
        conn.execute("grant hub_official to official_test_township, official_test_none")
        conn.execute("insert into ops.official_jurisdiction values ('official_test_township', %s) on conflict do nothing",
                     (township,))
    with db.connect() as conn:
        conn.execute("set role official_test_township")
        seen = conn.execute("select count(*), count(distinct township_code), min(township_code) "
                            "from restricted.restricted_resident").fetchone()
        assert seen == (in_township, 1, township)  # all of its township, nothing of the others
        conn.execute("reset role")
        conn.execute("set role official_test_none")
        assert conn.execute("select count(*) from restricted.restricted_resident").fetchone()[0] == 0
        conn.execute("reset role")
        conn.execute("set role dashboard_reader")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from restricted.restricted_resident")


def test_second_pass_is_incremental(first_pass):
    from govhub.orchestrate import run_pipeline
    from govhub.sim import runner

    before = scalar("select count(*) from raw.police__jq_jjxx")
    resolved_before = dict(db.query("select warning_key, resolved_at from published.risk_warning "
                                    "where resolved_at is not null")[1])
    assert resolved_before
    runner.advance(3)
    run_pipeline()
    # history is kept: a resolved warning stays, with the same resolution time, after the next build
    resolved_after = dict(db.query("select warning_key, resolved_at from published.risk_warning "
                                   "where resolved_at is not null")[1])
    assert {k: resolved_after.get(k) for k in resolved_before} == resolved_before
    # grants and row-level security are declared in dbt, so the rebuilt restricted tables keep them
    assert scalar("select count(*) from pg_policies where schemaname = 'restricted'") == 2
    new_batches = db.query(
        """select feed, object, received, inserted from ops.batch where status = 'succeeded'
           and started_at > (select max(published_at) from ops.publication where version = 1)""")[1]
    incidents = [r for r in new_batches if r[1] == "JQ_JJXX"]
    assert incidents and 0 < incidents[0][3] < 0.2 * before  # only new/changed rows arrive
    grid_buildings = [r for r in new_batches if r[1] == "building"]
    assert grid_buildings[0][3] == 0  # unchanged reference data is not loaded again
    assert scalar("select count(*) from ops.publication where gate_success") == 2


def test_a_batch_committed_during_a_build_waits_for_the_next_run_and_holds_nothing(first_pass):
    """Under the scheduler an extract can commit while warehouse_build runs. The run whose feed gate did not check
    that batch neither builds it, reconciles against it, holds its feed for it nor lists it in its version; the
    next run checks it and publishes it (found by `hub serve` with `hub simulate --live`: the grid feed was held
    on every build, 'fct_event: reconciles_with_raw_grid')."""
    from govhub import pipeline
    from govhub.sim import runner

    pipeline.gate_feeds("mid-build-1")  # the run's feed gate checks what is loaded now ...
    runner.advance(2)
    for feed in ("police", "grid"):  # ... then two departments' extracts commit while it builds
        pipeline.extract(feed)
    late = [r[0] for r in db.query("""select batch_id from ops.batch where feed in ('police', 'grid')
                                      and inserted > 0 and batch_id in (select batch_id from ops.excluded_batch)""")[1]]
    # events seen for the first time in a late batch (a late new version of an older event keeps the old one)
    late_events = {r[0] for r in db.query(
        """select jjbh from raw.police__jq_jjxx group by jjbh having bool_and(_batch_id = any(%(late)s))
           union select event_id from raw.grid__grid_event group by event_id having bool_and(_batch_id = any(%(late)s))""",
        {"late": late})[1]}
    assert late and late_events  # the precondition: new events arrived after the feed gate
    pipeline.build(run_id="mid-build-1")
    first = pipeline.gate_and_publish("mid-build-1")
    published = {r[0] for r in db.query("select source_event_id from published.fct_event")[1]}
    assert not late_events & published
    assert db.query("select batch_id from ops.held_batch")[1] == []
    assert not set(late) & set(db.query("select batches from ops.publication where version = %s", (first,))[1][0][0])
    # the next run checks the late batches and publishes their events
    pipeline.gate_feeds("mid-build-2")
    pipeline.build(run_id="mid-build-2")
    second = pipeline.gate_and_publish("mid-build-2")
    assert second == first + 1
    assert set(late) <= set(db.query("select batches from ops.publication where version = %s", (second,))[1][0][0])
    assert late_events <= {r[0] for r in db.query("select source_event_id from published.fct_event")[1]}
    assert db.query("select batch_id from ops.held_batch")[1] == []


EVENTS = "intermediate.int_events__unioned"
RELEASED_EXTRACT_TIME = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)  # older than every batch built so far


def _add_version(table: str, record_key: str, **changes) -> None:
    """A new raw version of one source record as a released held batch delivers it: the record's last version
    with ``changes``, in a batch of its own whose id sorts first and whose extract time is older than any built."""
    changes = {"_batch_id": f"0-held.{table}.{record_key}", "_extracted_at": RELEASED_EXTRACT_TIME, **changes}
    with db.connect() as conn:
        conn.execute(f'create temp table version as select * from raw."{table}" where _record_key = %s '
                     "order by _extracted_at desc limit 1", (record_key,))
        conn.execute("update version set " + ", ".join(f'"{c}" = %s' for c in changes) + ", _row_hash = md5(random()::text)",
                     list(changes.values()))
        conn.execute(f'insert into raw."{table}" select * from version')


def _built_at() -> dict[tuple[str, str], dt.datetime]:
    return {(s, r): b for s, r, b in db.query(f"select source, source_record_id, built_at from {EVENTS}")[1]}


STAGING = "path:models/staging"


def _merged(nodes) -> int:
    """Rows the incremental model merged, as PostgreSQL reported them to dbt (`MERGE n`)."""
    message = next(n.message for n in nodes if n.node == "model.govhub.int_events__unioned")
    return int(message.split()[-1])


def test_events_rebuild_only_what_changed_and_match_a_full_refresh(first_pass):
    from govhub import transform

    # after the incremental passes above: a petition (open ones first) that changes status, the SMD patient with
    # the most follow-ups and an address elsewhere, an incident to copy as a new one, a mediation whose only
    # batch gets held
    petition, was_open = db.query(f"select source_record_id, status = 'open' from {EVENTS} where source = 'petition' "
                                  "order by status = 'open' desc, 1 limit 1")[1][0]
    patient = scalar("select patient_id from staging.stg_health__smd_followups group by 1 order by count(*) desc, 1 limit 1")
    followups = {("health", r[0]) for r in db.query(
        "select source_record_id from staging.stg_health__smd_followups where patient_id = %s", (patient,))[1]}
    old_grid = scalar(f"select min(grid_code) from {EVENTS} where (source, source_record_id) in "
                      "(select 'health', source_record_id from staging.stg_health__smd_followups where patient_id = %s)",
                      (patient,))
    new_address, new_grid = db.query("select address, grid_code from intermediate.int_addresses__matched "
                                     "where grid_code <> %s order by address limit 1", (old_grid,))[1][0]
    incident = scalar(f"select min(source_record_id) from {EVENTS} where source = 'police' and grid_assignment = 'coordinates'")
    mediation = scalar(f"select min(source_record_id) from {EVENTS} where source = 'mediation'")
    before = _built_at()

    _add_version("petition__petition", petition, status="办结" if was_open else "受理",
                 closedat="2026-11-01T10:00:00+08:00" if was_open else "",
                 updatedat=(scalar("select max(util.hub_ts(updatedat)) from raw.petition__petition")
                            + dt.timedelta(days=1)).isoformat())
    _add_version("police__jq_jjxx", incident, jjbh="J-TEST-NEW", _record_key="J-TEST-NEW")
    _add_version("health__smd_patient", patient, address=new_address,
                 updated_at=(scalar("select max(updated_at::timestamptz) from raw.health__smd_patient")
                             + dt.timedelta(days=1)).isoformat())
    db.query("delete from raw.justice__mediations where _record_key = %s", (mediation,))  # its batch is held
    # staging with it: the largest registers' staging models are tables that take the day's raw versions
    merged = _merged(transform.build(select=f"{STAGING} int_events__unioned"))

    after = _built_at()
    touched = {k for k, v in after.items() if before.get(k) != v}
    # (1) only the new and changed events were rebuilt; every other row keeps the run that built it
    assert touched == {("petition", petition), ("police", "J-TEST-NEW")} | followups
    assert merged == len(touched)
    assert {k: v for k, v in after.items() if k not in touched} == {
        k: v for k, v in before.items() if k not in touched and k != ("mediation", mediation)}
    assert ("mediation", mediation) not in after  # a record gone from staging is gone from the events
    # (3) the petition update replaced its row; the follow-ups moved to the patient's new address
    assert db.query(f"select count(*), min(status) from {EVENTS} where source = 'petition' and source_record_id = %s",
                    (petition,))[1] == [(1, "closed" if was_open else "open")]
    assert {r[0] for r in db.query(f"select grid_code from {EVENTS} where source = 'health' and source_record_id in "
                                   "(select source_record_id from staging.stg_health__smd_followups where patient_id = %s)",
                                   (patient,))[1]} == {new_grid}

    # (2) the incremental table is the table a full refresh (`hub run --full-refresh`) builds from raw
    columns = ", ".join(c for c in db.query(f"select * from {EVENTS} limit 0")[0] if c != "built_at")
    db.query(f"create table intermediate.test_events_incremental as select {columns} from {EVENTS}")
    try:
        assert _merged(transform.build(full_refresh=True, select="int_events__unioned")) == len(after)
        assert scalar(f"select count(distinct built_at) from {EVENTS}") == 1
        for a, b in ((EVENTS, "intermediate.test_events_incremental"), ("intermediate.test_events_incremental", EVENTS)):
            assert scalar(f"select count(*) from (select {columns} from {a} except all select {columns} from {b}) as d") == 0
    finally:
        db.query("drop table intermediate.test_events_incremental")

    # changed reference data (a grid retired) can move any event: the next run rebuilds them all
    before = _built_at()
    _add_version("grid__grid", scalar(f"select min(grid_code) from {EVENTS} where grid_assignment = 'coordinates'"),
                 retired_at="2026-11-01T00:00:00+00:00",
                 updated_at=(scalar("select max(updated_at::timestamptz) from raw.grid__grid")
                             + dt.timedelta(days=1)).isoformat())
    assert _merged(transform.build(select=f"{STAGING} int_events__unioned")) == len(before)
    assert all(before[k] != v for k, v in _built_at().items())
