"""Unit tests of identity resolution (govhub.linkage) and of its evaluation helpers (govhub.evaluate).

Synthetic records only: no simulator county, no database. One test runs Splink on ~200 made-up people.
"""

from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pytest
from stdnum.cn import ric

from govhub import evaluate as ev
from govhub import linkage


def make_id(birth: str, seq: int, region: str = "341126") -> str:
    body = f"{region}{birth}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


# ------------------------------------------------------------------------------------------ names
@pytest.mark.parametrize("raw", ["买买提·艾力", "买买提•艾力", "买买提・艾力", "买买提.艾力", "买买提 艾力", " 买买提．艾力 "])
def test_middle_dots_and_spaces_are_not_part_of_a_name(raw):
    assert linkage.normalise_name(raw) == "买买提艾力"


def test_full_width_letters_become_half_width_and_empty_names_are_none():
    assert linkage.normalise_name("ＡＢ王") == "AB王"
    assert linkage.normalise_name(" · ") is None
    assert linkage.normalise_name(None) is None
    assert linkage.normalise_name(float("nan")) is None


def test_given_name_drops_one_or_a_compound_surname_and_none_for_transliterations():
    assert linkage.given_name("王建国") == "建国"
    assert linkage.given_name("欧阳建国") == "建国"
    assert linkage.given_name("欧阳") == "阳"  # two characters: a surname and a given name, not a compound
    assert linkage.given_name("买买提·艾力") is None
    assert linkage.given_name("王") is None


def test_pinyin_is_toneless_shares_homophones_and_keeps_characters_without_pinyin():
    assert linkage.name_pinyin("王伟") == linkage.name_pinyin("王玮") == "wangwei"
    assert linkage.name_pinyin("王𠈌").startswith("wang") and linkage.name_pinyin("王𠈌").endswith("𠈌")
    assert linkage.name_pinyin(None) is None


def test_names_agree_on_homophones_given_name_only_and_rare_characters_but_not_on_siblings():
    assert linkage.names_agree("王伟", "王玮")  # homophone
    assert linkage.names_agree("王 建国", "王建国")
    assert linkage.names_agree("建国", "王建国")  # given name only
    assert linkage.names_agree("王建𠈌", "王建国")  # a character the other system cannot hold
    assert not linkage.names_agree("王建国", "王建军")  # siblings: one character apart
    assert linkage.names_agree("伟", "王伟")  # the record wrote only a one-character given name
    assert not linkage.names_agree("伟", "王伟明")
    assert linkage.names_agree(None, "王伟") is None


def test_an_unreadable_character_stands_for_one_character_or_a_lost_middle_dot():
    assert linkage.names_agree("买买提?艾力", "买买提·艾力")  # the dot the file's encoding could not carry
    assert linkage.names_agree("买买提?艾力", "买买提.艾力")
    assert linkage.names_agree("王?明", "王磊明")  # a rare character lost
    assert not linkage.names_agree("王?明", "王明")  # nothing else is forgiven
    assert not linkage.names_agree("买买提?艾力", "买买提·艾山")
    assert linkage.name_skeleton("买买提?艾力") == linkage.name_skeleton("买买提·艾力") == "买买提艾力"
    assert linkage.name_skeleton("?") is None


# ------------------------------------------------------------------------------------------ dates, IDs
def test_birth_dates_agree_on_day_month_swap_and_one_digit_only():
    assert linkage.birth_agrees("19800305", "19800305")
    assert linkage.birth_agrees("19800305", "19800503")
    assert linkage.birth_agrees("19800305", "19800306")
    assert not linkage.birth_agrees("19800305", "19810306")
    assert linkage.birth_agrees("19800305", None) is None
    assert linkage.birth_agrees("1980", "19800305") is None


def test_id_birth_and_sex_are_read_from_the_number():
    number = make_id("19800229", 13)
    assert linkage.id_birth(number) == "19800229" and linkage.id_sex(number) == "M"
    assert linkage.id_birth("341126198002300130") is None  # 30 February
    assert linkage.id_birth("341126180001010130") is None  # before 1900
    assert linkage.id_sex(make_id("19800101", 12)) == "F"
    assert linkage.id_birth(None) is None and linkage.id_sex("34112") is None


def test_every_single_edit_or_adjacent_swap_of_an_id_keeps_one_blocking_key():
    number = make_id("19750611", 427)
    keys = ["idk1", "idk2", "idk3", "idk4"]

    def features(value):
        frame = pd.DataFrame({"uid": ["u"], "id": [value], "name": ["王伟"], "sex": ["M"], "birth": [None],
                              "address_key": [None]})
        return linkage._features(frame).iloc[0]

    true = features(number)
    variants = [number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1:] for i in range(17)]
    variants += [number[:i] + number[i + 1] + number[i] + number[i + 2:] for i in range(16) if number[i] != number[i + 1]]
    for variant in variants:
        got = features(variant)
        assert any(got[k] == true[k] for k in keys), variant
    # and an unrelated number shares none
    other = features(make_id("19900101", 1, region="110105"))
    assert not any(other[k] == true[k] for k in keys)


# ------------------------------------------------------------------------------------------ doubted numbers
def _known(rows):
    return pd.DataFrame(rows, columns=["uid", "id_number", "name", "birth", "sex"])


def test_a_record_contradicting_its_numbers_name_and_birth_date_is_doubted():
    b = make_id("19600911", 11)
    known = _known([("b1", b, "杨建国", "19600911", "M"), ("b2", b, "杨建国", None, None),
                    ("a1", b, "李丽", "19851103", "F")])
    assert linkage.doubted_ids(known) == {"a1"}


def test_typos_in_name_or_birth_alone_do_not_doubt_a_number():
    b = make_id("19600911", 11)
    known = _known([("b1", b, "杨建国", "19600911", "M"), ("b2", b, "杨建军", "19601109", "M"),  # swap
                    ("b3", b, "杨建國", "19600911", "M"),  # variant character, birth agrees
                    ("b4", b, "建国", None, None), ("b5", b, "杨 建国", "19600912", None)])
    assert linkage.doubted_ids(known) == set()


def test_the_only_record_of_a_number_is_doubted_on_a_contradicted_birth_date():
    a, c = make_id("19600911", 11), make_id("19700101", 21)
    known = _known([("alone", a, "杨建国", "19561103", "M"), ("ok", c, "王伟", "19700101", "M"),
                    ("no_birth", make_id("19800101", 31), "王芳", None, "F")])
    assert linkage.doubted_ids(known) == {"alone"}


def test_with_one_other_record_and_only_a_matching_sex_a_name_mismatch_is_not_enough():
    b = make_id("19600911", 11)
    known = _known([("b1", b, "杨建国", None, "M"), ("x", b, "李强", None, "M")])
    assert linkage.doubted_ids(known) == set()
    # two other records agreeing on the name: the odd one out is doubted
    known = _known([("b1", b, "杨建国", None, "M"), ("b2", b, "杨建国", None, None), ("x", b, "李强", None, "M")])
    assert linkage.doubted_ids(known) == {"x"}
    # one other record that states the number's birth date: the number is surely its, so not the odd one's
    known = _known([("b1", b, "杨建国", "19600911", "M"), ("x", b, "李强", None, "M")])
    assert linkage.doubted_ids(known) == {"x"}


def test_a_lost_middle_dot_or_a_given_name_alone_does_not_doubt_a_number():
    b, c = make_id("19940522", 95), make_id("19600516", 31)
    known = _known([("b1", b, "买买提.艾力", "19940522", "M"), ("b2", b, "买买提?艾力", None, "M"),
                    ("c1", c, "顾兰", "19600516", "M"), ("c2", c, "兰", None, None)])
    assert linkage.doubted_ids(known) == set()
    # a different name in the same script still is someone else's
    known = _known([("b1", b, "买买提.艾力", "19940522", "M"), ("x", b, "阿卜杜拉?吐尔逊", None, "M")])
    assert linkage.doubted_ids(known) == {"x"}


# ------------------------------------------------------------------------------------------ choosing links
def _pairs(rows):
    return pd.DataFrame(rows, columns=["uid_l", "uid_r", "match_probability"])


def test_a_link_needs_a_posterior_over_all_candidates():
    pairs = _pairs([("K1", "police|ZDRY|1", 0.9999999), ("K2", "police|ZDRY|1", 0.2),
                    ("K1", "police|ZDRY|2", 0.99999), ("K2", "police|ZDRY|2", 0.99999),  # twins: no link
                    ("K3", "police|ZDRY|3", 0.99)])  # not confident enough
    links = linkage.choose_links(pairs, {"police|ZDRY|1", "police|ZDRY|2", "police|ZDRY|3"})
    assert [(u, k) for u, k, _ in links] == [("police|ZDRY|1", "K1")]


def test_a_person_who_already_has_a_record_in_a_one_per_person_register_is_not_a_candidate():
    pairs = _pairs([("K1", "health|smd_patient|9", 0.9999999), ("K2", "health|smd_patient|9", 0.99999)])
    links = linkage.choose_links(pairs, {"health|smd_patient|9"}, {"K1": {("health", "smd_patient")}})
    assert [(u, k) for u, k, _ in links] == [("health|smd_patient|9", "K2")]


def test_cluster_of_follows_the_number_unless_doubted():
    records = pd.DataFrame({"uid": ["a", "b", "c", "d"], "id_number": ["N1", "N1", None, "N1"],
                            "id_status": ["valid", "repaired", "missing", "valid"]})
    res = linkage.Resolution(links=[("c", "N1", 0.9999), ("d", "N2", 0.9999)], doubted={"d"})
    assert res.cluster_of(records).tolist() == ["N1", "N1", "N1", "N2"]
    res = linkage.Resolution(doubted={"d"})
    assert res.cluster_of(records).tolist() == ["N1", "N1", "N:c", "N:d"]


# ------------------------------------------------------------------------------------------ Splink end to end
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"


def _people(n: int, seed: int = 7):
    rng = random.Random(seed)
    people = []
    for i in range(n):
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(25000))
        people.append({"id": make_id(f"{birth:%Y%m%d}", 2 * i + 1), "name": rng.choice(SURNAMES) + rng.choice(GIVEN)
                       + rng.choice(GIVEN), "birth": f"{birth:%Y%m%d}", "sex": "M",
                       "address_key": f"{rng.choice('东西南北')}村{i % 40}组{i}号"})
    return people


def _record(uid, person, id_raw=None, **override):
    row = {"uid": uid, "source": uid.split("|")[0], "source_object": uid.split("|")[1], "id_raw": id_raw,
           "name": person["name"], "sex": person["sex"], "birth": person["birth"], "address_key": person["address_key"]}
    row.update(override)
    row["id_number"], row["id_status"] = ev.clean_id(row["id_raw"])
    return row


def test_resolve_links_defective_numbers_and_keeps_relatives_apart():
    people = _people(200)
    rows = [_record(f"police|RK_CZRK|{i}", p, p["id"]) for i, p in enumerate(people)]
    p1, p2, p3, p4, p5 = people[1], people[2], people[3], people[4], people[5]
    t = p1["id"]
    rows += [
        _record("police|ZDRY|transposed", p1, t[:10] + t[11] + t[10] + t[12:] if t[10] != t[11] else t[:9] + "X"),
        _record("petition|xinfang|given_only", p2, None, name=p2["name"][1:], sex=None),
        _record("justice|corrections|swap", p3, None, birth=p3["birth"][:4] + p3["birth"][6:8] + p3["birth"][4:6]),
        # someone else's valid number: p5's, on p4's record
        _record("health|smd_patient|other", p4, p5["id"]),
    ]
    # a twin of p5 (same birth, surname, address; another given name) with a record without a number
    twin = dict(p5, id=make_id(p5["birth"], 999), name=p5["name"][0] + "磊" + "磊")
    rows += [_record("police|RK_CZRK|twin", twin, twin["id"]),
             _record("civil|残疾人|twin_noid", twin, None)]
    records = pd.DataFrame(rows)
    res = linkage.resolve(records)
    linked = {u: k for u, k, _ in res.links}
    assert linked.get("police|ZDRY|transposed") == p1["id"]
    assert linked.get("petition|xinfang|given_only") == p2["id"]
    assert linked.get("justice|corrections|swap") == p3["id"]
    assert "health|smd_patient|other" in res.doubted
    assert linked.get("health|smd_patient|other") == p4["id"]
    assert linked.get("civil|残疾人|twin_noid") == twin["id"]
    assert p5["id"] not in {linked.get("civil|残疾人|twin_noid")}
    clusters = res.cluster_of(records)
    assert clusters[records.uid == "police|RK_CZRK|twin"].item() != clusters[records.uid == "police|RK_CZRK|5"].item()


# ------------------------------------------------------------------------------------------ evaluation helpers
@pytest.mark.parametrize(("raw", "status"), [
    (None, "missing"), (" ", "missing"), ("11010519491231002X", "valid"), ("11010519491231002x", "repaired"),
    ("１１０１０５１９４９１２３１００２Ｘ", "repaired"), ("110105 19491231002X", "repaired"),
    ("110105491231002", "repaired"), ("110105194912310021", "invalid_check"), ("110105194902300021", "invalid_date"),
    ("11010519491231", "malformed")])
def test_clean_id_reads_numbers_as_the_warehouse_does(raw, status):
    clean, got = ev.clean_id(raw)
    assert got == status
    if status in ("valid", "repaired"):
        assert clean == "11010519491231002X"


def test_defect_kinds_are_derived_from_the_number_as_sent():
    true = "11010519491231002X"
    other = make_id("19800101", 11)
    assert ev.defect_kind(true, true) == "none"
    assert ev.defect_kind(None, true) == "missing"
    assert ev.defect_kind("110105194912310021", true) == "wrong_check"
    assert ev.defect_kind("110105491231002", true) == "legacy15"
    assert ev.defect_kind("11010519491231002x", true) == "lower_x"
    assert ev.defect_kind("１１０１０５１９４９１２３１００２Ｘ", true) == "fullwidth"
    assert ev.defect_kind("110105 19491231002X", true) == "spaces"
    assert ev.defect_kind("11010591491231002X", true) == "transposed"
    assert ev.defect_kind("11010519491231003X", true) == "substituted"
    assert ev.defect_kind(other, true) == "other_valid"


def test_injected_defects_change_only_true_numbers_and_are_reread():
    people = _people(300)
    records = pd.DataFrame([_record(f"police|RK_CZRK|{i}", p, p["id"]) for i, p in enumerate(people)])
    true_id = dict(zip(records.uid, [p["id"] for p in people], strict=True))
    out = ev.inject_defects(records, true_id, {"other_valid": 0.2, "transposed": 0.2}, seed=3)
    kinds = [ev.defect_kind(r, true_id[u]) for u, r in zip(out.uid, out.id_raw, strict=True)]
    assert 30 < kinds.count("other_valid") < 90 and 30 < kinds.count("transposed") < 90
    assert set(kinds) <= {"none", "other_valid", "transposed"}
    assert out.loc[[k == "transposed" for k in kinds], "id_status"].isin(["invalid_check", "invalid_date"]).all()
    assert records.id_raw.tolist() == [p["id"] for p in people]  # the input is untouched
    with pytest.raises(ValueError):
        ev.inject_defects(records, true_id, {"typo": 0.1}, seed=3)


def test_pairwise_involving_counts_only_pairs_touching_flagged_records():
    # clusters: A = {1, 2, 3} (3 wrongly), B = {4}; truth: x = {1, 2}, y = {3, 4}
    rows = [("A", "x", False), ("A", "x", False), ("A", "y", True), ("B", "y", False)]
    got = ev.pairwise_involving(rows)
    assert (got["predicted_pairs"], got["true_pairs"], got["precision"], got["recall"]) == (2, 1, 0.0, 0.0)
    assert ev.pairwise_involving([(c, e, False) for c, e, _ in rows])["predicted_pairs"] == 0


# ------------------------------------------------------------------------------------------ incremental resolution
def _previous(records: pd.DataFrame, res: linkage.Resolution) -> linkage.Previous:
    """What ``link_probabilistically`` stores after a run, built from its Resolution."""
    usable = records["id_status"].isin(linkage.USABLE_STATUSES)
    linked = pd.DataFrame(res.links, columns=["uid", "linked_id_number", "match_probability"])
    return linkage.Previous(
        records=pd.DataFrame({"uid": records["uid"], "fingerprint": records["fingerprint"],
                              "id_number": records["id_number"].where(usable, None),
                              "doubted": records["uid"].isin(res.doubted), "person": res.cluster_of(records)}),
        profiles=res.profiles, candidates=res.candidates, links=linked)


def _fingerprinted(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["fingerprint"] = pd.util.hash_pandas_object(frame.drop(columns="uid").fillna(""), index=False).astype(str)
    return frame.sort_values("uid", ignore_index=True)


def test_an_incremental_resolution_scores_only_what_changed_and_equals_a_full_one():
    people = _people(300, seed=11)
    rows = [_record(f"police|RK_CZRK|{i:04d}", p, p["id"]) for i, p in enumerate(people)]
    # records without a usable number, each near its person
    rows += [_record(f"petition|xinfang|{i:04d}", people[i], None, sex=None) for i in range(0, 60, 3)]
    day1 = _fingerprinted(rows)
    first = linkage.resolve(day1)
    assert first.sent == 20 and first.trained and len(first.links) >= 15
    # the next day: a new record without a number, one record's person gets a new address (its profile changes),
    # one record gains someone else's number (its number becomes doubted), one record is gone
    p = people
    rows2 = [r for r in rows if r["uid"] != "petition|xinfang|0030"]
    rows2 += [_record("justice|corrections|new", p[100], None, birth=p[100]["birth"][:7] + "9")]
    moved = next(r for r in rows2 if r["uid"] == "police|RK_CZRK|0003")
    moved["address_key"] = "新村1组1号"
    rows2 += [_record("health|smd_patient|other", p[7], p[8]["id"])]
    day2 = _fingerprinted(rows2)
    incremental = linkage.resolve(day2, model=first.model, previous=_previous(day1, first))
    full = linkage.resolve(day2, model=first.model)
    assert incremental.incremental and not incremental.trained
    # scored: the new record, the doubted one, the record whose candidate moved — not the other 17
    assert "justice|corrections|new" in incremental.scored and "health|smd_patient|other" in incremental.scored
    assert "petition|xinfang|0003" in incremental.scored
    assert incremental.sent < 6 < full.sent
    assert "police|RK_CZRK|0003" not in incremental.scored  # a known record is never scored
    assert sorted(incremental.links) == sorted(full.links) and incremental.doubted == full.doubted
    assert incremental.cluster_of(day2).tolist() == full.cluster_of(day2).tolist()
    assert dict(((u, k) for u, k, _ in incremental.links)).get("justice|corrections|new") == p[100]["id"]


def test_key_changes_name_merges_splits_and_relinks():
    before = pd.DataFrame({"uid": ["a", "b", "c", "d", "e"], "person": ["K1", "N:b", "K2", "K2", "K3"]})
    after = pd.DataFrame({"uid": ["a", "b", "c", "d", "e"], "person": ["K1", "K1", "K2", "N:d", "K1"]})
    changes = linkage.key_changes(before, after).set_index("uid")["kind"].to_dict()
    # b's own resident is absorbed into K1; d leaves K2 (which goes on) for a new resident; e's K3 is gone
    # into K1
    assert changes == {"b": "merge", "d": "split", "e": "merge"}
    before = pd.DataFrame({"uid": ["a", "b", "c"], "person": ["K1", "K1", "K2"]})
    after = pd.DataFrame({"uid": ["a", "b", "c"], "person": ["K1", "K2", "K2"]})
    assert linkage.key_changes(before, after)["kind"].tolist() == ["relink"]


# ------------------------------------------------------------------------------------------ incremental, in the hub
def _xref() -> list[tuple]:
    from govhub import db

    return db.query("""select source, source_object, source_record_id, resident_key, match_method, match_score
                       from linkage.resident_xref order by 1, 2, 3""")[1]


@pytest.fixture(scope="module")
def tiny_two_days(tiny_county):
    """The tiny county run on day 0 (a first, full resolution), then one simulated day later (incremental)."""
    from govhub import db
    from govhub.orchestrate import run_pipeline
    from govhub.sim import runner

    first = tiny_county.outcomes
    runner.advance(1)
    second = run_pipeline()
    runs = db.query("select mode, trained, records, touched, scored from linkage.linkage_run order by finished_at")[1]
    return first, second, runs, _xref()


def test_the_hub_resolves_incrementally_and_a_full_resolution_gives_the_same_xref(tiny_two_days):
    from govhub import db, linkage, transform

    first, second, runs, incremental_xref = tiny_two_days
    assert all(o.state == "success" for o in first + second)
    (mode1, trained1, records1, _, scored1), (mode2, trained2, records2, touched2, scored2) = runs
    assert (mode1, trained1, mode2, trained2) == ("full", True, "incremental", False)
    assert records2 > records1  # the day brought new person records ...
    assert 0 < touched2 < records2 / 4 and scored2 < scored1  # ... and only they (and their numbers') were re-read
    # the same day resolved in full, with the kept model: the same residents, keys, methods and scores
    linkage.link_probabilistically(full_refresh=True, retrain=False, run_id="test-full")
    transform.build(select="int_residents__resolved resident_xref")
    assert _xref() == incremental_xref
    assert db.query("select mode, trained from linkage.linkage_run where run_id = 'test-full'")[1] == [("full", False)]
    # the key linkage records in resident_key_change is the key dbt derives (int_residents__resolved)
    mismatched = db.query(f"""select count(*) from linkage.record_state s join linkage.resident_xref x
                               on s.uid = x.source || '|' || x.source_object || '|' || x.source_record_id
                              where {linkage.KEY_SQL.format(p='s.person')} <> x.resident_key""")[1][0][0]
    assert mismatched == 0
    assert db.query("select count(*) from linkage.record_state")[1][0][0] == len(incremental_xref)
    # the state keeps a record's usable number, and NULL (not a stringified missing value) for the others
    wrong_number = db.query("""select count(*) from linkage.record_state s
                               join intermediate.int_person_records__unioned r
                                 on s.uid = r.source || '|' || r.source_object || '|' || r.source_record_id
                              where s.id_number is distinct from
                                    case when r.id_status in ('valid', 'repaired') then left(r.id_number, 32) end""")
    assert wrong_number[1][0][0] == 0


def test_vectorised_birth_and_sex_of_numbers_agree_with_the_scalar_ones():
    ids = pd.Series(["11010519491231002X", "110105194912310", "1101051949123", "11010518991231002X", "110105194902300",
                     "1101051949１231002X", "11010520261301002X", None, float("nan"), "", "110105ABCDEFGH12X"] * 3,
                    dtype=object)
    assert linkage.id_births(ids).tolist() == [linkage.id_birth(v) for v in ids]
    assert linkage.id_sexes(ids).tolist() == [linkage.id_sex(v) for v in ids]
    assert linkage.id_births(pd.Series([], dtype=object)).tolist() == []
