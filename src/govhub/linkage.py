"""Probabilistic identity resolution for person records without a usable ID number (Splink on DuckDB).

A valid or repaired ID number decides by itself (dbt, ``int_residents__resolved``). Only records whose ID
is missing, malformed or fails its check character come here: Splink (Fellegi-Sunter, the reference in
government data linkage) links each to a known person on the ID's first 17 digits, name (characters and
pinyin), birth date, sex and address — or leaves it a new person when the evidence is weak. Splink's
PostgreSQL backend needs a DuckDB extension download (impossible offline), so rows move by psycopg.

Relatives share surname, address and sometimes a birth date (twins): a link needs a probability of at
least ``THRESHOLD`` *and* a clear margin over the second-best candidate.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import pandas as pd

from govhub import db

log = logging.getLogger(__name__)
THRESHOLD = 0.999
MARGIN = 0.5
# Registers that hold one record per person: a record of one of them never belongs to a person who already
# has a (different) record in the same register — that person is a relative with a similar profile.
ONE_RECORD_PER_PERSON = {("police", "RK_CZRK"), ("police", "RK_LDRK"), ("health", "smd_patient"),
                         ("health", "death_cert"), ("civil", "低保对象"), ("civil", "特困人员"), ("civil", "残疾人"),
                         ("civil", "留守人员")}


def _pinyin(name: str | None) -> str | None:
    if not name:
        return None
    from pypinyin import lazy_pinyin

    # homophones and variant characters share a toneless pinyin key
    return "".join(lazy_pinyin(name)).lower()


def registers_of(known_rows: pd.DataFrame) -> dict[str, set[tuple[str, str]]]:
    """ID number -> the one-record-per-person registers that already hold a record of that person."""
    out: dict[str, set[tuple[str, str]]] = {}
    for id_number, source, obj in known_rows[["id_number", "source", "source_object"]].itertuples(index=False):
        if (source, obj) in ONE_RECORD_PER_PERSON:
            out.setdefault(id_number, set()).add((source, obj))
    return out


def load_records() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, set[tuple[str, str]]]]:
    # Everything crosses to Python as bounded text: a date is text only within 1900-01-01..9999-12-31 (staging
    # already nulls impossible ones; psycopg would raise on a year-0 or year-10000 date), names and addresses are
    # cut to lengths no real one reaches (a megabyte of garbage must not stall pinyin or Splink).
    cols, rows = db.query(
        """select source, source_object, source_record_id, left(id_number, 32) as id_number, id_status,
                  left(person_name, 64) as person_name, coalesce(sex, id_sex) as sex,
                  case when coalesce(birth_date, id_birth_date) between date '1900-01-01' and date '9999-12-31'
                       then to_char(coalesce(birth_date, id_birth_date), 'YYYY-MM-DD') end as birth_date,
                  left(util.hub_addr_key(address), 200) as address_key
           from intermediate.int_person_records__unioned""")
    df = pd.DataFrame(rows, columns=cols)
    known_rows = df[df.id_status.isin(["valid", "repaired"])]
    unknown = df[~df.id_status.isin(["valid", "repaired"])].copy()
    # one profile per known person (most frequent value of each attribute across departments)
    profiles = []
    for id_number, group in known_rows.groupby("id_number"):
        def mode(column: str, g=group):
            values = [v for v in g[column] if v is not None and v == v]
            return Counter(values).most_common(1)[0][0] if values else None
        profiles.append({"uid": id_number, "id17": id_number[:17], "name": mode("person_name"),
                         "sex": id_number and ("M" if int(id_number[16]) % 2 else "F"),
                         "birth_date": mode("birth_date"),
                         "address_key": mode("address_key")})
    known = pd.DataFrame(profiles)
    unknown["uid"] = unknown.source + "|" + unknown.source_object + "|" + unknown.source_record_id
    unknown["id17"] = unknown.id_number.where(unknown.id_number.fillna("").str.match(r"^\d{17}"), None).str[:17]
    unknown = unknown.rename(columns={"person_name": "name"})
    columns = ["uid", "id17", "name", "sex", "birth_date", "address_key"]
    for frame in (known, unknown):
        frame["name_pinyin"] = frame["name"].map(_pinyin)
    return (known[columns + ["name_pinyin"]] if len(known) else known, unknown[columns + ["name_pinyin"]],
            registers_of(known_rows))


def predict(known: pd.DataFrame, unknown: pd.DataFrame) -> pd.DataFrame:
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    # m-probabilities (how often a true match agrees) are set from what we know of department clerks'
    # error rates instead of EM: EM needs thousands of comparisons and fails on a small county's
    # handful of ID-less records. u-probabilities are estimated from the data by random sampling.
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="uid",
        probability_two_random_records_match=1 / max(len(known), 1),
        comparisons=[
            cl.ExactMatch("id17").configure(m_probabilities=[0.9, 0.1]),
            cl.ExactMatch("name").configure(m_probabilities=[0.97, 0.03]),
            cl.ExactMatch("name_pinyin").configure(m_probabilities=[0.99, 0.01]),
            cl.ExactMatch("birth_date").configure(m_probabilities=[0.97, 0.03]),
            cl.ExactMatch("sex").configure(m_probabilities=[0.99, 0.01]),
            cl.ExactMatch("address_key").configure(m_probabilities=[0.6, 0.4]),
        ],
        blocking_rules_to_generate_predictions=[block_on("id17"), block_on("birth_date"), block_on("name_pinyin")],
        retain_intermediate_calculation_columns=False,
    )
    api = DuckDBAPI()
    linker = Linker([api.register(known.copy()), api.register(unknown.copy())], settings, log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(max_pairs=2_000_000, seed=1)
    return linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()


def choose_links(pairs: pd.DataFrame, unknown_ids: set[str],
                 registers: dict[str, set[tuple[str, str]]] | None = None) -> list[tuple[str, str, float]]:
    """(unknown uid, known ID number, probability) for confident, unambiguous links only.

    A candidate who already has a record in the unknown record's one-record-per-person register is not the
    same person (``registers``: ID number -> such registers) and is dropped from the candidates.
    """
    links = []
    if pairs.empty:
        return links
    registers = registers or {}
    left_is_unknown = pairs["uid_l"].isin(unknown_ids)
    pairs = pairs.assign(unknown=pairs["uid_l"].where(left_is_unknown, pairs["uid_r"]),
                         known=pairs["uid_r"].where(left_is_unknown, pairs["uid_l"]))
    register_of = pairs["unknown"].map(lambda uid: tuple(uid.split("|", 2)[:2]))
    taken = [reg in registers.get(known, ()) for reg, known in zip(register_of, pairs["known"], strict=True)]
    pairs = pairs.assign(match_probability=pairs["match_probability"].where(~pd.Series(taken, index=pairs.index), 0.0))
    for uid, group in pairs.groupby("unknown"):
        ranked = group.sort_values("match_probability", ascending=False)
        best = ranked.iloc[0]
        second = ranked.iloc[1]["match_probability"] if len(ranked) > 1 else 0.0
        if best["match_probability"] >= THRESHOLD and best["match_probability"] - second >= MARGIN:
            links.append((uid, best["known"], float(best["match_probability"])))
    return links


def link_probabilistically() -> int:
    """Recompute ``linkage.probabilistic_links``; returns the number of links."""
    started = time.perf_counter()
    known, unknown, registers = load_records()
    links: list[tuple[str, str, float]] = []
    if len(unknown) and len(known) >= 100:
        links = choose_links(predict(known, unknown), set(unknown.uid), registers)
    with db.connect(role=db.TRANSFORMER) as conn:
        conn.execute("truncate linkage.probabilistic_links")
        with conn.cursor().copy("copy linkage.probabilistic_links from stdin") as copy:
            for uid, id_number, probability in links:
                source, obj, record_id = uid.split("|", 2)
                copy.write_row((source, obj, record_id, id_number, probability))
    log.info("probabilistic linkage: %d of %d records without a usable ID linked in %.1fs", len(links),
             len(unknown), time.perf_counter() - started)
    return len(links)
