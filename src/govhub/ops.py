"""The ``ops`` schema: feed runs, batch reconciliation, quarantine, watermarks, validations, publications."""

from __future__ import annotations

import psycopg

OPS_DDL = """
create schema if not exists ops;
create schema if not exists raw;
create schema if not exists linkage;
-- Which division (county, township, village or grid code) each official role may see in `restricted`
-- (row-level security). Maintained by the county's administrator, never by the pipeline.
create table if not exists ops.official_jurisdiction (
    role_name text not null,
    division_code text not null,
    primary key (role_name, division_code)
);
-- Which feed's results, quarantine and scorecard rows each department officer role may read (row-level
-- security on those ops tables). Maintained by the county's administrator.
create table if not exists ops.officer_department (
    role_name text not null,
    feed text not null,
    primary key (role_name, feed)
);
create table if not exists linkage.probabilistic_links (
    source text not null,
    source_object text not null,
    source_record_id text not null,
    linked_id_number text,  -- the usable ID number of the person this record was linked to (null: none)
    match_probability double precision not null,
    -- the record's own valid number does not decide: the record contradicts it (someone else's number)
    id_doubted boolean not null default false,
    primary key (source, source_object, source_record_id)
);
-- warehouses from before doubted numbers
alter table linkage.probabilistic_links alter column linked_id_number drop not null;
alter table linkage.probabilistic_links add column if not exists id_doubted boolean not null default false;
-- Incremental resolution (govhub.linkage): what the last run resolved, so the next scores only what changed.
-- Every person record as last resolved: its fingerprint, its usable number, doubted or not, and its person
-- (the ID number it resolved to, or 'N:' || uid for a person of its own).
create table if not exists linkage.record_state (
    uid text primary key,
    fingerprint text not null,
    id_number text,
    doubted boolean not null,
    person text not null
);
-- One row per known person (usable, undoubted number): the fingerprint of the profile Splink compares with.
create table if not exists linkage.profile_state (
    id_number text primary key,
    fingerprint text not null
);
-- The pairs (record without a usable number -> known person) Splink scored >= 0.5 for each such record: a
-- record's link depends only on these candidates, so a changed person re-scores only the records listed here.
create table if not exists linkage.candidate_pair (
    uid text not null,
    id_number text not null,
    match_probability double precision not null,
    primary key (uid, id_number)
);
create index if not exists candidate_pair_id_idx on linkage.candidate_pair (id_number);
-- The trained Splink model (settings with u-probabilities) and its name term frequencies: trained by a full
-- refresh (or the first run), reused by incremental runs so one pair always scores the same.
create table if not exists linkage.model (
    id int primary key check (id = 1),
    settings jsonb not null,
    trained_at timestamptz not null default now(),
    trained_on_records int not null
);
create table if not exists linkage.name_tf (
    name_norm text primary key,
    tf_name_norm double precision not null
);
-- One row per linkage run: full or incremental, how many records it read, re-checked and scored, and its time.
create table if not exists linkage.linkage_run (
    run_id text not null,
    finished_at timestamptz not null default now(),
    mode text not null check (mode in ('full', 'incremental')),
    trained boolean not null,
    records int not null,
    touched int not null,
    scored int not null,
    links int not null,
    doubted int not null,
    key_changes int not null,
    seconds double precision not null,
    phases jsonb
);
-- Resident keys that changed because evidence merged or split a resident (one row per person record whose
-- resident_key changed between two runs); read by the mart resident_key_history.
create table if not exists linkage.resident_key_change (
    run_id text not null,
    changed_at timestamptz not null default now(),
    source text not null,
    source_object text not null,
    source_record_id text not null,
    old_key text not null,
    new_key text not null,
    kind text not null check (kind in ('merge', 'split', 'relink'))
);
create table if not exists ops.batch (
    batch_id text primary key,
    feed text not null,
    object text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    window_from text,
    window_to text,
    drop_name text,
    received int,
    loaded int,
    inserted int,
    quarantined int,
    status text not null,  -- running / succeeded / failed / skipped
    message text,
    check (status <> 'succeeded' or received = loaded + quarantined)
);
create index if not exists batch_feed_idx on ops.batch (feed, object, started_at desc);
create table if not exists ops.quarantine (
    batch_id text not null,
    feed text not null,
    object text not null,
    record_no int not null,
    record jsonb not null,          -- the original values, exactly as received
    reasons text[] not null,        -- every reason, in plain words
    quarantined_at timestamptz not null default now(),
    primary key (batch_id, record_no)
);
create table if not exists ops.watermark (
    feed text not null,
    object text not null,
    value text not null,
    updated_at timestamptz not null default now(),
    primary key (feed, object)
);
create table if not exists ops.accepted_drop (
    feed text not null,
    drop_name text not null,
    sha256 text not null,
    batch_id text not null,
    accepted_at timestamptz not null default now(),
    primary key (feed, drop_name)
);
create table if not exists ops.feed_run (
    run_id bigserial primary key,
    feed text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null,
    message text
);
create table if not exists ops.validation_result (
    validation_id bigserial primary key,
    run_id text not null,
    suite text not null,
    table_name text not null,
    expectation text not null,
    column_name text,
    blocking boolean not null,
    success boolean not null,
    observed text,
    validated_at timestamptz not null default now()
);
-- per-feed suites (govhub.quality.feed_gate): which feed and object an outcome is about, and its severity
alter table ops.validation_result add column if not exists feed text;
alter table ops.validation_result add column if not exists object text;
alter table ops.validation_result add column if not exists severity text
    generated always as (case when blocking then 'blocking' else 'warn' end) stored;
-- The scorecard per department, as the page shows it (masked): written by the scorecard (hub_gate); a department
-- officer reads only its feeds' rows, an official every row (row-level security, govhub.roles).
create table if not exists ops.scorecard (
    feed text primary key,
    department text not null,
    generated_at timestamptz not null,
    data jsonb not null
);
create table if not exists ops.feed_gate (
    run_id text not null,
    feed text not null,
    status text not null,           -- passed / warn / failed (a blocking feed-level expectation failed)
    batches text[] not null,        -- the feed's new batches this verdict is about
    message text,                   -- every failed expectation, in words
    validated_at timestamptz not null default now(),
    primary key (run_id, feed)
);
-- Batches of a feed that failed its blocking feed-level checks (govhub.quality.feed_gate): held out of the
-- warehouse — staging reads around them — until released (`hub release`). The raw rows stay in raw, untouched.
create table if not exists ops.batch_hold (
    batch_id text primary key,
    feed text not null,
    object text not null,
    run_id text not null,           -- the feed gate run that held it
    held_at timestamptz not null default now(),
    reason text not null,           -- the failed blocking expectations, in words
    released_at timestamptz,
    released_by text,
    release_note text
);
create or replace view ops.held_batch as
    select batch_id, feed, object, held_at, reason, run_id from ops.batch_hold where released_at is null;
-- One warehouse build at a time (govhub.build_lock): the run holding the build now, and each run's hold.
create table if not exists ops.build_lock (
    lock_name text primary key default 'warehouse' check (lock_name = 'warehouse'),
    run_id text not null,
    host text not null,
    pid int not null,               -- the process of the task now running (or that ran last)
    scope text not null,            -- process: the advisory lock is kept between tasks; task: per task
    stage text not null,            -- the task running now, or 'between'
    acquired_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create table if not exists ops.build_run (
    run_id text primary key,
    acquired_at timestamptz not null default now(),
    waited_seconds double precision not null default 0,
    released_at timestamptz,
    outcome text,                   -- released / taken over (presumed gone: killed, crashed)
    note text
);
-- The dbt seeds (dbt_project/seeds: reference data) as last loaded, per seed: a build reloads a seed only when
-- its file or the seeds' yml changed (govhub.transform.build), not on every run.
create table if not exists ops.seed_load (
    seed text primary key,
    checksum text not null,
    loaded_at timestamptz not null default now()
);
create table if not exists ops.publication (
    version bigserial primary key,
    published_at timestamptz not null default now(),
    run_id text not null,
    tables text[] not null,
    batches text[] not null,
    gate_success boolean not null,
    message text
);
-- Every batch a feed gate run checked (held or not): only checked batches enter the warehouse. Under the
-- scheduler an extract can commit while a build runs; its batch was not checked by that run's feed gate, so the
-- build (staging), its publication gate (raw reconciliation) and its version's batch list all leave it out, and
-- the next run's feed gate checks it. A table created on an existing warehouse counts as checked what the rule
-- before it had checked: batches finished by the last successful publication, and held ones.
do $batch_check$ begin
  if to_regclass('ops.batch_check') is null then
    create table ops.batch_check (
        batch_id text primary key,
        run_id text not null,           -- the feed gate run that checked it
        checked_at timestamptz not null default now()
    );
    insert into ops.batch_check (batch_id, run_id)
    select b.batch_id, 'checked before ops.batch_check existed' from ops.batch as b
    where b.status = 'succeeded'
      and (b.finished_at <= (select max(published_at) from ops.publication where gate_success)
           or exists (select from ops.batch_hold as h where h.batch_id = b.batch_id));
  end if;
end $batch_check$;
-- What staging and the publication gate leave out of raw: held batches, and batches no feed gate has checked yet.
create or replace view ops.excluded_batch as
    select batch_id, feed, object, 'held' as why from ops.held_batch
    union all
    select b.batch_id, b.feed, b.object, 'not checked yet' from ops.batch as b
    where b.status = 'succeeded'
      and not exists (select from ops.batch_check as c where c.batch_id = b.batch_id)
      and not exists (select from ops.batch_hold as h where h.batch_id = b.batch_id);
"""


def ensure_ops(conn: psycopg.Connection) -> None:
    """The ops schema, the hub's roles and their grants (govhub.roles), once per version of this DDL.

    A component role (loader, transformer, publisher) cannot run this DDL: it finds the schema current and
    returns; only the admin connection sets it up (`hub up`, or the first command of a fresh warehouse)."""
    from govhub import roles

    if roles.setup_is_current(conn):
        return
    # Serialise DDL: concurrent extracts at start-up would otherwise race on "create ... if not exists".
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(4711)")
        if not roles.setup_is_current(conn):
            conn.execute(OPS_DDL)
            roles.ensure_roles(conn)


def ensure_setup(role: str) -> None:
    """For a process that works as a component role (the gates, the scorecard, `hub status`): the ops schema,
    roles and grants are checked on the role's own connection and set up by the admin only when the hub's DDL
    changed (then the admin's credentials are needed once, e.g. after an upgrade; `hub up` does it)."""
    from govhub import db, roles

    try:
        with db.connect(role=role) as conn:
            if roles.setup_is_current(conn):
                return
    except psycopg.OperationalError:  # the role does not exist yet (a fresh server): the admin creates it
        pass
    with db.connect_admin() as conn:
        ensure_ops(conn)
