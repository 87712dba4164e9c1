"""Identity resolution of person records beyond "a valid ID decides" (Splink on DuckDB).

How a record finds its person (``resolve``; dbt's ``int_residents__resolved`` applies the outcome):

1. A valid or repaired ID number decides by itself — *unless its record contradicts the number*. The number
   encodes a birth date and a sex, and its other records carry a name. A record that does not state the
   number's birth date (day/month swap and one digit forgiven) and whose name agrees with none of the names its
   number carries (normalised characters, toneless pinyin, given name only, characters without pinyin as
   wildcards) has someone else's number (a relative's, a neighbour's) — except when all it states besides is
   the number's sex, against one other named record that does not state the number's birth date either (which
   of the two is wrong?). The number's only named record is doubted when it contradicts the number's birth
   date; a record without a name when it contradicts both birth date and sex. A doubted number does not
   decide: the record goes to step 2 without it.
2. Records without a usable ID (missing, wrong check character, transposed or mistyped digits, malformed) and
   the doubted ones are linked by Splink (Fellegi-Sunter) to the known persons (one profile per valid ID):
   ID within one substitution / adjacent transposition, the birth date embedded in the ID against the stated
   one, names by characters, toneless pinyin, pinyin edit distance and given name only (middle dots, spaces and
   full-width forms normalised), term-frequency adjustment on names (a common name is weak evidence), birth
   date with day/month swap and one-digit error, sex, and the address: same building / grid / village as
   int_addresses__matched read it from the registry, else Jaro-Winkler similarity of the text.
3. A link needs a posterior >= ``THRESHOLD`` that the record is this candidate rather than any other or nobody
   (its odds over one plus all candidates' odds: relatives share surname, address and sometimes a birth date, so
   two good candidates make no link), and never joins a person who already has a record in the
   same one-record-per-person register. Two records with different valid IDs that agree with their own IDs are
   never merged: only a doubted or unusable number is open to linkage (the twin/relative guard).

Splink's PostgreSQL backend needs a DuckDB extension download (impossible offline), so rows move by psycopg.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from govhub import db

log = logging.getLogger(__name__)
THRESHOLD = 0.999
# Registers that hold one record per person: a record of one of them never belongs to a person who already
# has a (different) record in the same register — that person is a relative with a similar profile.
ONE_RECORD_PER_PERSON = {("police", "RK_CZRK"), ("police", "RK_LDRK"), ("health", "smd_patient"),
                         ("health", "death_cert"), ("civil", "低保对象"), ("civil", "特困人员"), ("civil", "残疾人"),
                         ("civil", "留守人员")}
# Chinese compound surnames (复姓) in use today; a name starting with one has its given name after two characters.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 令狐 慕容 夏侯 长孙 宇文 司徒 端木 轩辕 西门 南宫 独孤 呼延 申屠 "
    "澹台 公冶 太叔 濮阳 万俟 闻人 赫连 钟离 宗政 拓跋 百里 东郭 鲜于 左丘 第五 梁丘".split())
# Middle dots of transliterated names as systems store them (U+00B7, U+2022, U+30FB, U+FF65, U+2027, U+2219,
# U+22C5, full stops) and spaces: none is part of a name.
NAME_SEPARATORS = dict.fromkeys(map(ord, "·•・･‧∙⋅.．。 \t\u3000"), None)


# ------------------------------------------------------------------------------------------ normalisation
def normalise_name(name: str | None) -> str | None:
    """Full-width to half-width (NFKC), separators and spaces removed; None when nothing is left."""
    if not isinstance(name, str):
        return None
    out = unicodedata.normalize("NFKC", str(name)).translate(NAME_SEPARATORS)
    return out or None


def given_name(name: str | None) -> str | None:
    """The name without its surname (one character, two for a compound surname); None for a transliterated
    name (it had a middle dot: no surname to drop) or a name too short to have one."""
    if not isinstance(name, str):
        return None
    raw = unicodedata.normalize("NFKC", str(name)).strip()
    if any(ch in raw for ch in "·•・･‧∙⋅.．"):
        return None
    norm = normalise_name(raw)
    if norm is None:
        return None
    cut = 2 if norm[:2] in COMPOUND_SURNAMES and len(norm) >= 3 else 1
    return norm[cut:] if len(norm) > cut else None


@functools.lru_cache(maxsize=65536)
def _char_pinyin(ch: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(ch, errors=lambda chars: list(chars))).lower()


def name_pinyin(name: str | None) -> str | None:
    """Toneless pinyin of a normalised name, character by character (homophones share it; one character always
    reads the same, whatever its neighbours); a character without pinyin stays itself."""
    if not isinstance(name, str) or not name:
        return None
    return "".join(_char_pinyin(ch) for ch in name)


def birth_agrees(a: str | None, b: str | None) -> bool | None:
    """YYYYMMDD dates: equal, day and month swapped, or one digit different count as agreement."""
    if not isinstance(a, str) or not isinstance(b, str) or len(a) != 8 or len(b) != 8:
        return None
    if a == b or (a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]):
        return True
    return sum(x != y for x, y in zip(a, b, strict=True)) == 1


def _edit_distance_at_most_1(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _has_pinyin(ch: str) -> bool:
    return name_pinyin(ch) != ch


# What a character the file's encoding could not carry arrives as (GBK's '?', the replacement character): it
# stands for one character of the name, a middle dot included (a transliterated name's dot outside GBK).
UNREADABLE = frozenset("?？\ufffd")
_SEPARATOR_CHARS = frozenset(chr(c) for c in NAME_SEPARATORS if chr(c) not in " \t\u3000")


def _dotted(name: str) -> str:
    """NFKC, spaces removed, every middle dot as '·' (kept: it holds a place an unreadable character may take)."""
    raw = unicodedata.normalize("NFKC", name)
    return "".join("·" if ch in _SEPARATOR_CHARS else ch for ch in raw if not ch.isspace())


def name_skeleton(name: str | None) -> str | None:
    """The normalised name without unreadable characters ('?' where an encoding lost one): the same key for
    买买提·艾力 and 买买提?艾力 (blocking and a weak Splink level, not a decision)."""
    norm = normalise_name(name)
    if norm is None:
        return None
    out = "".join(ch for ch in norm if ch not in UNREADABLE)
    return out or None


def _wildcard_equal(a: str, b: str) -> bool:
    """Equal length and every position equal, or one side a character without pinyin / unreadable (which may
    also stand for a middle dot)."""
    return len(a) == len(b) and all(x == y or not _has_pinyin(x) or not _has_pinyin(y) or x in UNREADABLE
                                    or y in UNREADABLE for x, y in zip(a, b, strict=True))


def names_agree(a: str | None, b: str | None) -> bool | None:
    """Same person's name as two clerks wrote it: normalised equal, equal toneless pinyin (homophones), equal
    but for characters without pinyin (outside the system's code page, they cannot be compared), or one is the
    other's given name (at least two characters). No edit distance: siblings' names are often one character or
    one pinyin letter apart (王伟/王伟明, wangwei/wangwen), and this decides whether a valid number is doubted."""
    na, nb = normalise_name(a), normalise_name(b)
    if na is None or nb is None:
        return None
    if na == nb or name_pinyin(na) == name_pinyin(nb):
        return True
    if _wildcard_equal(na, nb):
        return True
    if (UNREADABLE & (set(na) | set(nb))) and _wildcard_equal(_dotted(a), _dotted(b)):
        return True  # 买买提?艾力 is 买买提·艾力 whose dot the file's encoding lost
    # one is the other's given name; a one-character given name only when that is all the record wrote (顾兰 /
    # 兰): siblings' given names differ
    ga, gb = given_name(a), given_name(b)
    return bool((ga and ga == nb) or (gb and gb == na))


def id_birth(id_number: str | None) -> str | None:
    """The birth date (YYYYMMDD) an 18-character ID number encodes, when it is a real date."""
    if not isinstance(id_number, str) or len(id_number) < 14 or not id_number[6:14].isdigit():
        return None
    import datetime as dt

    try:
        dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
    return id_number[6:14] if id_number[6:10] >= "1900" else None


def id_sex(id_number: str | None) -> str | None:
    if not isinstance(id_number, str) or len(id_number) < 17 or not id_number[16].isdigit():
        return None
    return "M" if int(id_number[16]) % 2 else "F"


@functools.lru_cache(maxsize=65536)
def _birth_of_date_part(part: str) -> str | None:
    return id_birth("0" * 6 + part)


def _id_birth_by_date_part(id_number: object) -> str | None:
    """``id_birth``, computed once per date part (a county has ~30k birth dates)."""
    if not isinstance(id_number, str) or len(id_number) < 14:
        return None
    return _birth_of_date_part(id_number[6:14])


def id_births(ids: pd.Series) -> pd.Series:
    """``id_birth`` of every number (once per distinct number: no per-record string slicing in pandas)."""
    return _map_distinct(ids, _id_birth_by_date_part)


def id_sexes(ids: pd.Series) -> pd.Series:
    """``id_sex`` of every number, once per distinct number."""
    return _map_distinct(ids, id_sex)


# ------------------------------------------------------------------------------------------ doubted numbers
def doubted_ids(known: pd.DataFrame) -> set[str]:
    """uids of records whose valid/repaired ID number they contradict (see the module doc, step 1).

    ``known``: uid, id_number, name, birth (YYYYMMDD stated by the department), sex (stated)."""
    if known.empty:
        return set()
    embedded_birth = id_births(known["id_number"])
    embedded_sex = id_sexes(known["id_number"])
    birth_ok = [birth_agrees(b, e) for b, e in zip(known["birth"], embedded_birth, strict=True)]
    sex_ok = [s == e if isinstance(s, str) and e is not None else None
              for s, e in zip(known["sex"], embedded_sex, strict=True)]
    frame = known.assign(birth_ok=birth_ok, sex_ok=sex_ok, norm=_map_distinct(known["name"], normalise_name))
    frame["norm"] = frame["norm"].astype(object).where(frame["norm"].notna(), None)
    # vectorised first: a record whose exact (normalised) name another record of the number carries agrees.
    # Grouped on integer codes of the number and the name (object strings hashed once, not once per groupby).
    id_codes = pd.factorize(frame["id_number"].astype(object), use_na_sentinel=False)[0]
    norm_codes = pd.factorize(frame["norm"], use_na_sentinel=False)[0]
    has_name = frame["norm"].notna()
    named_count = has_name.astype(int).groupby(id_codes).transform("sum")
    same_count = frame["uid"].groupby([id_codes, norm_codes]).transform("size")
    others_named = named_count - has_name.astype(int)
    same_name = has_name & (same_count > 1)
    # records of the number that state its birth date: the number is surely theirs
    confirmed = (has_name & (frame["birth_ok"] == True)).groupby(id_codes).transform("sum")  # noqa: E712
    undecided = frame[(frame["birth_ok"] != True) & ~same_name]  # noqa: E712 (None is not True either)
    # names as written (a middle dot holds a place an unreadable character may have taken), one per record
    named = (frame[has_name & frame["id_number"].isin(undecided["id_number"])]
             .groupby("id_number")[["norm", "name"]].apply(lambda g: list(zip(g["norm"], g["name"], strict=True))))
    named = named.to_dict()
    out = set()
    for row, n_others, n_confirmed in zip(undecided.itertuples(index=False), others_named[undecided.index],
                                          confirmed[undecided.index], strict=True):
        if n_others == 0:
            # the number's only named record: a birth date it contradicts is enough (the number joins this record
            # to nobody, so doubting it costs nothing and lets Splink find the record's own person)
            if row.birth_ok is False and row.norm is not None:
                out.add(row.uid)
            elif row.norm is None and row.birth_ok is False and row.sex_ok is False:
                out.add(row.uid)
            continue
        if row.norm is None:  # no name to compare: the number's birth date and sex must both be contradicted
            if row.birth_ok is False and row.sex_ok is False:
                out.add(row.uid)
            continue
        others = [name for norm, name in named.get(row.id_number, []) if norm != row.norm]
        if any(names_agree(row.name, other) for other in others):
            continue
        # the name contradicts the number's other records and nothing the record states supports the number,
        # unless all it has is the number's sex against a single other record that does not state the number's
        # birth date either (which of the two is wrong?)
        if (row.birth_ok is False or row.sex_ok is False or len(others) >= 2 or n_confirmed > 0
                or row.sex_ok is not True):
            out.add(row.uid)
    return out


# ------------------------------------------------------------------------------------------ records
RECORD_COLUMNS = ["uid", "source", "source_object", "id_raw", "id_number", "id_status", "name", "sex", "birth",
                  "address_key", "building_id", "grid_code", "village_code"]
USABLE_STATUSES = ("valid", "repaired")


def load_records() -> pd.DataFrame:
    """Every person record of the warehouse in the shape ``resolve`` reads (``RECORD_COLUMNS`` and a
    ``fingerprint`` of what linkage reads of it), in uid order (ties in a person's profile go to the first)."""
    # Everything crosses to Python as bounded text: a date is text only within 1900-01-01..9999-12-31 (staging
    # already nulls impossible ones; psycopg would raise on a year-0 or year-10000 date), names and addresses are
    # cut to lengths no real one reaches (a megabyte of garbage must not stall pinyin or Splink).
    # The address key is the one int_addresses__matched computed for the address (util.hub_addr_key: ten regular
    # expressions, not worth running again per record); an address it lacks gets it computed here.
    # The address as matched to the building registry (int_addresses__matched: any prefix, numerals, group and
    # house words read) is compared, not the text: departments write one building many ways.
    matched = db.query("select to_regclass('intermediate.int_addresses__matched') is not null")[1][0][0]
    cols, rows = db.query(
        f"""select q.*, md5(row(q.id_raw, q.id_number, q.id_status, q.name, q.sex, q.birth, q.address_key,
                                q.building_id, q.grid_code, q.village_code)::text) as fingerprint
           from (select r.source || '|' || r.source_object || '|' || r.source_record_id as uid, r.source,
                  r.source_object, left(r.id_number_raw, 40) as id_raw, left(r.id_number, 32) as id_number,
                  r.id_status, left(r.person_name, 64) as name, r.sex,
                  case when r.birth_date between date '1900-01-01' and date '9999-12-31'
                       then to_char(r.birth_date, 'YYYYMMDD') end as birth,
                  left({'case when m.address is not null then m.address_key else util.hub_addr_key(r.address) end'
                        if matched else 'util.hub_addr_key(r.address)'}, 200) as address_key,
                  {'m.building_id::text, m.grid_code::text, m.village_code::text' if matched else
                   'null::text as building_id, null::text as grid_code, null::text as village_code'}
           from intermediate.int_person_records__unioned as r
           {'left join intermediate.int_addresses__matched as m on m.address = r.address' if matched else ''}) as q""")
    # object columns (None for a missing value), not pandas' Arrow strings: ``isin`` of Arrow strings builds a
    # pyarrow scalar per probe value in Python, and a missing Arrow string reached COPY as the text 'nan'
    frame = pd.DataFrame(rows, columns=cols, dtype=object)
    return frame.sort_values("uid", kind="stable", ignore_index=True)


def _modes(id_codes: np.ndarray, values: pd.Series) -> pd.Series:
    """Per ID number (``id_codes``: its code, numbered from 0 by ``pd.factorize``) the most frequent non-missing
    value of ``values`` among its records (ties: first seen); indexed by code, an ID number without one absent."""
    stated = values.notna().to_numpy()
    # grouped on integer codes (numbered in order of first appearance, as groupby(sort=False) orders groups):
    # object strings are hashed once, not once per groupby
    codes, distinct = pd.factorize(values[stated].astype(object))
    counts = (pd.DataFrame({"id": id_codes[stated], "value": codes}).groupby(["id", "value"], sort=False).size()
              .reset_index(name="n"))
    counts = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates("id")
    return pd.Series(distinct.take(counts["value"].to_numpy()), index=counts["id"].to_numpy(), dtype=object)


def _map_distinct(values: pd.Series, function) -> pd.Series:
    """``function`` applied once per distinct value (names repeat: a county has far fewer names than records)."""
    codes, distinct = pd.factorize(values.astype(object))  # one hash pass; -1 for a missing value
    results = np.empty(len(distinct) + 1, dtype=object)  # the last slot (code -1): None
    results[:-1] = [function(value) for value in distinct]
    out = pd.Series(results[codes], index=values.index, dtype=object)
    return out.where(out.notna(), None)


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(object).where(frame.notna(), None)
    frame["name_norm"] = _map_distinct(frame["name"], normalise_name)
    frame["given"] = _map_distinct(frame["name"], given_name)
    frame["name_skel"] = _map_distinct(frame["name"], name_skeleton)
    for column, source in (("name_py", "name_norm"), ("given_py", "given")):
        frame[column] = _map_distinct(frame[source], name_pinyin)
    frame["id17"] = frame["id"].where(frame["id"].fillna("").str.match(r"^\d{17}"), None).str[:17]
    # blocking keys on the ID's 17 digits with one window of positions left out each: an edit of one digit or a
    # swap of two adjacent ones falls inside one window, so one key stays equal
    frame["idk1"] = frame["id17"].str[5:]
    frame["idk2"] = frame["id17"].str[:4] + frame["id17"].str[9:]
    frame["idk3"] = frame["id17"].str[:8] + frame["id17"].str[13:]
    frame["idk4"] = frame["id17"].str[:12]
    frame["surname_year"] = frame["name_norm"].str[:1] + frame["birth"].str[:4]
    return frame.astype(object).where(frame.notna(), None)


def profiles(known_rows: pd.DataFrame) -> pd.DataFrame:
    """One profile per usable, undoubted ID number (``known_rows``: its records): the number's own birth date and
    sex, the most frequent name and address of its records, the one-record-per-person registers that hold it,
    and a ``fingerprint`` of all that (a changed fingerprint is a changed candidate for Splink)."""
    # ID numbers as codes 0.. in order of first appearance (the profiles' order): grouped on integers below
    id_codes, id_numbers = pd.factorize(known_rows["id_number"].astype(object), use_na_sentinel=False)
    known = pd.DataFrame({"uid": np.asarray(id_numbers, dtype=object)})
    code = pd.Series(np.arange(len(known)))
    for column in ("name", "address_key", "building_id", "grid_code", "village_code"):
        known[column] = code.map(_modes(id_codes, known_rows[column])) if column in known_rows else None
    known["id"] = known["uid"]
    # the number's own birth date and sex are the person's: departments copy them from the number
    known["birth"] = id_births(known["uid"])
    known["sex"] = id_sexes(known["uid"])
    # the registers as a bit set (one bit per register of REGISTER_BITS), summed over distinct (number, register)
    bit = pd.Series([REGISTER_BITS.get(register, 0) for register in
                     zip(known_rows["source"], known_rows["source_object"], strict=True)],
                    index=known_rows.index, dtype="int64")
    held = (pd.DataFrame({"id": id_codes, "bit": bit.to_numpy()})[bit.to_numpy() > 0].drop_duplicates()
            .groupby("id")["bit"].sum())
    known["registers"] = code.map(held)
    known = known.astype(object).where(known.notna(), None)
    known["fingerprint"] = pd.util.hash_pandas_object(
        known[["uid", *PROFILE_COLUMNS[1:], "registers"]].fillna("\x00"), index=False).astype(str)
    return known


REGISTER_BITS = {register: 1 << i for i, register in enumerate(sorted(ONE_RECORD_PER_PERSON))}
PROFILE_COLUMNS = ["uid", "id", "name", "sex", "birth", "address_key", "building_id", "grid_code", "village_code"]


def unknown_records(records: pd.DataFrame, doubted: set[str]) -> pd.DataFrame:
    """The records Splink links: no usable number, or a doubted one (in ``PROFILE_COLUMNS``)."""
    usable = records["id_status"].isin(USABLE_STATUSES)
    unknown = records[~usable | records["uid"].isin(doubted)].copy()
    is_doubted = unknown["uid"].isin(doubted)
    # a doubted number is someone else's: neither it nor its birth date says anything about this record
    unknown["id"] = unknown["id_number"].where(~is_doubted, None)
    embedded = id_births(unknown["id"])
    unknown["birth"] = unknown["birth"].where(unknown["birth"].notna(), embedded)
    for column in ("building_id", "grid_code", "village_code"):
        if column not in unknown:
            unknown[column] = None
    return unknown[PROFILE_COLUMNS]


def split(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """(known profiles, records for Splink, doubted uids) of ``records``, all of them."""
    usable = records["id_status"].isin(USABLE_STATUSES)
    doubted = doubted_ids(records[usable])
    known = profiles(records[usable & ~records["uid"].isin(doubted)])
    return _features(known[PROFILE_COLUMNS]), _features(unknown_records(records, doubted)), doubted


def settings(known_count: int):
    import splink.comparison_level_library as cll
    from splink import SettingsCreator, block_on

    def comparison(name: str, levels: list[tuple[str, str, float]], tf: str | None = None):
        import splink.comparison_library as cl

        built = [cll.CustomLevel(f"{levels[0][1]}", label_for_charts="null").configure(is_null_level=True)]
        for label, sql, m in levels[1:]:
            level = cll.CustomLevel(sql, label_for_charts=label).configure(m_probability=m)
            if tf and label == "exact":
                level = level.configure(tf_adjustment_column=tf, tf_adjustment_weight=1.0)
            built.append(level)
        return cl.CustomComparison(built, output_column_name=name)

    # m-probabilities (how often the same person's two records agree at each level) are priors from clerks'
    # error rates, not EM: EM fails on a small county's handful of records without a usable ID. u-probabilities
    # (chance agreement) are estimated from the data by random sampling.
    comparisons = [
        comparison("id", [
            ("null", "id_l is null or id_r is null", 0),
            ("first 17 equal", "substr(id_l, 1, 17) = substr(id_r, 1, 17)", 0.55),
            ("one substitution or adjacent transposition",
             "damerau_levenshtein(substr(id_l, 1, 18), substr(id_r, 1, 18)) <= 1 "
             "or damerau_levenshtein(substr(id_l, 1, 17), substr(id_r, 1, 17)) <= 1", 0.35),
            ("else", "true", 0.10)]),
        comparison("name", [
            ("null", "name_norm_l is null or name_norm_r is null", 0),
            ("exact", "name_norm_l = name_norm_r", 0.86),
            ("same pinyin", "name_py_l = name_py_r", 0.05),
            ("equal but for unreadable characters", "name_skel_l = name_skel_r", 0.01),
            ("given name only", "(given_l is not null and length(given_l) >= 2 and given_l = name_norm_r) "
                                "or (given_r is not null and length(given_r) >= 2 and given_r = name_norm_l)", 0.03),
            ("one character or pinyin edit", "damerau_levenshtein(name_norm_l, name_norm_r) <= 1 "
                                             "or damerau_levenshtein(name_py_l, name_py_r) <= 1", 0.04),
            ("else", "true", 0.01)], tf="name_norm"),
        comparison("birth", [
            ("null", "birth_l is null or birth_r is null", 0),
            ("exact", "birth_l = birth_r", 0.93),
            ("day and month swapped", "substr(birth_l, 1, 4) = substr(birth_r, 1, 4) and "
                                      "substr(birth_l, 5, 2) = substr(birth_r, 7, 2) and "
                                      "substr(birth_l, 7, 2) = substr(birth_r, 5, 2)", 0.02),
            ("one digit", "hamming(birth_l, birth_r) = 1", 0.03),
            ("else", "true", 0.02)]),
        comparison("sex", [
            ("null", "sex_l is null or sex_r is null", 0),
            ("exact", "sex_l = sex_r", 0.98),
            ("else", "true", 0.02)]),
        comparison("address", [
            ("null", "address_key_l is null or address_key_r is null", 0),
            ("same building", "building_id_l = building_id_r or address_key_l = address_key_r", 0.6),
            ("similar text", "jaro_winkler_similarity(address_key_l, address_key_r) >= 0.9", 0.08),
            ("same grid", "grid_code_l = grid_code_r", 0.07),
            ("same village", "village_code_l = village_code_r", 0.05),
            ("alike text", "jaro_winkler_similarity(address_key_l, address_key_r) >= 0.75", 0.05),
            ("else", "true", 0.15)]),
    ]
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="uid",
        probability_two_random_records_match=1 / max(known_count, 1),
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=BLOCKING_RULES(block_on),
        retain_intermediate_calculation_columns=False,
    )


def BLOCKING_RULES(block_on):  # noqa: N802 (a table of rules, as Splink names them)
    return [block_on("idk1"), block_on("idk2"), block_on("idk3"), block_on("idk4"), block_on("birth"),
            block_on("name_py"), block_on("name_skel"), "l.given_py = r.name_py", "l.name_py = r.given_py", block_on("address_key"),
            block_on("building_id"), block_on("surname_year")]




# ------------------------------------------------------------------------------------------ the model
@dataclass
class Model:
    """What Splink learns from the data: the settings with their u-probabilities and prior, and the term
    frequencies of names. Trained by a full refresh (or the first run) and kept: an incremental run scores with
    the same model, so a pair scores the same whichever run scores it (and keys do not drift with sampling)."""

    settings: dict
    name_tf: pd.DataFrame
    trained_on_records: int = 0


def _linker(known: pd.DataFrame, unknown: pd.DataFrame, model: Model | None):
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    api = DuckDBAPI()
    linker = Linker([api.register(known.copy()), api.register(unknown.copy())],
                    model.settings if model else settings(len(known)), log_level=logging.WARNING)
    if model is not None:
        linker.table_management.register_term_frequency_lookup(api.register(model.name_tf.copy()), "name_norm")
    return linker


def train(known: pd.DataFrame, unknown: pd.DataFrame) -> Model:
    """u-probabilities by random sampling and name term frequencies, over every profile and linkable record."""
    return _trained(_linker(known, unknown, None), len(known) + len(unknown))


def _trained(linker, records: int) -> Model:
    linker.training.estimate_u_using_random_sampling(max_pairs=300_000, seed=1)
    untrained = [m.replace("\n", " ") for m in linker._settings_obj._not_trained_messages() if "u values" in m]
    if untrained:
        log.info("linkage model: %d comparisons keep a default u value on some level (not seen in the random "
                 "sample): %s", len(untrained), "; ".join(untrained))
    name_tf = linker.table_management.compute_tf_table("name_norm").as_pandas_dataframe()
    name_tf = name_tf[name_tf["name_norm"].notna()][["name_norm", "tf_name_norm"]].reset_index(drop=True)
    return Model(linker.misc.save_model_to_json(), name_tf, records)


def predict(known: pd.DataFrame, unknown: pd.DataFrame, threshold: float | None = 0.5,
            model: Model | None = None) -> pd.DataFrame:
    """Splink's scored pairs between ``known`` profiles and ``unknown`` records (blocking rules decide which
    pairs); without a ``model`` one is trained on these two tables first."""
    model = model or train(known, unknown)
    linker = _linker(known, unknown, model)
    # Splink warns at every predict() that some u values were not seen in the random sample (levels such as
    # "day and month swapped" that chance rarely produces; they keep Splink's default). That is a fact about the
    # kept model, logged once when it is trained (_trained); repeated per incremental run it only buries the
    # console, so it is silenced here and nowhere else.
    splink_linker_log = logging.getLogger("splink.internals.linker")
    level = splink_linker_log.level
    splink_linker_log.setLevel(logging.ERROR)
    try:
        pairs = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    finally:
        splink_linker_log.setLevel(level)
    return pairs[["uid_l", "uid_r", "match_probability"]]


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
    # the record is at most one of its candidates: the posterior of the best one is its odds over one plus the
    # odds of all (relatives share surname, address and sometimes a birth date: two good candidates, no link)
    p = pairs["match_probability"].clip(upper=1 - 1e-15)
    pairs = pairs.assign(odds=p / (1 - p))
    total = pairs.groupby("unknown")["odds"].transform("sum")
    pairs = pairs.assign(posterior=pairs["odds"] / (1 + total))
    best = pairs.sort_values("posterior", ascending=False, kind="stable").drop_duplicates("unknown")
    for uid, known, posterior in best[["unknown", "known", "posterior"]].itertuples(index=False):
        if posterior >= THRESHOLD:
            links.append((uid, known, float(posterior)))
    return links


def registers_of(known: pd.DataFrame, among: set[str] | None = None) -> dict[str, set[tuple[str, str]]]:
    """ID number (of ``among`` when given) -> the one-record-per-person registers that already hold a record of
    that person (the profiles' ``registers`` bit set)."""
    held = known[known["registers"].notna() & (known["uid"].isin(among) if among is not None else True)]
    return {id_number: {register for register, b in REGISTER_BITS.items() if int(bits) & b}
            for id_number, bits in zip(held["uid"], held["registers"], strict=True)}


# ------------------------------------------------------------------------------------------ resolution
@dataclass
class Previous:
    """What the last run left (``linkage.record_state``, ``profile_state``, ``candidate_pair``,
    ``probabilistic_links``): enough to re-score only what changed."""

    records: pd.DataFrame  # uid, fingerprint, id_number (usable), doubted, person
    profiles: pd.DataFrame  # id_number, fingerprint
    candidates: pd.DataFrame  # uid, id_number, match_probability (pairs >= 0.5)
    links: pd.DataFrame  # uid, linked_id_number, match_probability (linked records only)


@dataclass
class Resolution:
    """Outcome for the records that the ID alone does not decide."""

    links: list[tuple[str, str, float]] = field(default_factory=list)  # (uid, ID number of the person, probability)
    doubted: set[str] = field(default_factory=set)  # uids whose valid number does not decide
    sent: int = 0  # records sent to Splink (scored)
    pairs: pd.DataFrame | None = None  # Splink's scored pairs (for evaluation)
    seconds: float = 0.0
    incremental: bool = False
    scored: set[str] = field(default_factory=set)  # uids scored this run
    touched: set[str] = field(default_factory=set)  # uids whose state this run rewrites (changed, their numbers')
    candidates: pd.DataFrame | None = None  # pairs >= 0.5 of the scored records
    profiles: pd.DataFrame | None = None  # id_number, fingerprint of every known person
    changed_profiles: set[str] = field(default_factory=set)
    model: Model | None = None
    trained: bool = False
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (for the log and the benchmark)

    def cluster_of(self, records: pd.DataFrame) -> pd.Series:
        """A person key per record, as ``int_residents__resolved`` derives it (ID number, or 'N:' + uid)."""
        linked = {uid: id_number for uid, id_number, _ in self.links}
        usable = records["id_status"].isin(USABLE_STATUSES) & ~records["uid"].isin(self.doubted)
        key = records["id_number"].where(usable, None)
        key = key.where(key.notna(), records["uid"].map(linked))
        return key.where(key.notna(), "N:" + records["uid"])


def _pair_uids(pairs: pd.DataFrame, unknown_ids: set[str]) -> set[str]:
    left = pairs["uid_l"].isin(unknown_ids)
    return set(pairs["uid_l"][left]) | set(pairs["uid_r"][~left])


def _as_candidates(pairs: pd.DataFrame, unknown_ids: set[str]) -> pd.DataFrame:
    left = pairs["uid_l"].isin(unknown_ids)
    return pd.DataFrame({"uid": pairs["uid_l"].where(left, pairs["uid_r"]),
                         "id_number": pairs["uid_r"].where(left, pairs["uid_l"]),
                         "match_probability": pairs["match_probability"]}).reset_index(drop=True)


def resolve(records: pd.DataFrame, keep_pairs: bool = False, model: Model | None = None,
            previous: Previous | None = None) -> Resolution:
    """Doubted numbers and probabilistic links for ``records`` (columns ``RECORD_COLUMNS``).

    Without ``previous`` every record is resolved (a full resolution). With it (what the last run left) only
    what changed is: the doubted-number check runs on the numbers of new, changed and removed records; Splink
    scores the records without a usable number that are new or changed, whose number became (un)doubted, or
    that had or now have a changed person among their candidates (pairs >= 0.5: the only pairs a link depends
    on); every other record keeps its link. With the same ``model`` both give the same outcome. Without a
    ``model`` one is trained (u by random sampling, name term frequencies) on all profiles and records.
    """
    started = time.perf_counter()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        phases[name] = round(time.perf_counter() - started - sum(phases.values()), 3)

    records = records.astype(object).where(records.notna(), None)  # one missing value: None
    usable = records["id_status"].isin(USABLE_STATUSES)
    if previous is None:
        changed = set(records["uid"])
        doubted = doubted_ids(records[usable])
        in_groups = usable
    else:
        before = previous.records.set_index("uid")
        was = records["uid"].map(before["fingerprint"])
        is_changed = was.isna() | (was != records["fingerprint"])
        changed = set(records["uid"][is_changed])
        removed = before.index.difference(pd.Index(records["uid"]))
        # a number's doubted check reads all its records: re-run it for every number a changed, new or removed
        # record carries or carried
        groups = (set(records["id_number"][is_changed & usable])
                  | set(before["id_number"].reindex(list(changed | set(removed))).dropna()))
        in_groups = usable & records["id_number"].isin(groups)
        kept_doubted = set(before.index[before["doubted"].astype(bool)]) & set(records["uid"][usable & ~in_groups])
        doubted = kept_doubted | doubted_ids(records[in_groups])
    lap("doubted")
    known_rows = records[usable & ~records["uid"].isin(doubted)]
    known = profiles(known_rows)
    lap("profiles")
    unknown = unknown_records(records, doubted)
    unknown_ids = set(unknown["uid"])
    known_f = _features(known[PROFILE_COLUMNS])
    lap("features")
    out = Resolution(doubted=doubted, incremental=previous is not None,
                     profiles=known[["uid", "fingerprint"]].rename(columns={"uid": "id_number"}))
    if previous is None:
        to_score = unknown_ids
        out.changed_profiles = set(known["uid"])
        out.touched = set(records["uid"])
    else:
        now = known.set_index("uid")["fingerprint"]
        then = previous.profiles.set_index("id_number")["fingerprint"]
        both = now.index.intersection(then.index)
        out.changed_profiles = (set(now.index.difference(then.index)) | set(then.index.difference(now.index))
                                | set(both[now[both].values != then[both].values]))
        touched = changed | set(records["uid"][in_groups])
        to_score = unknown_ids & touched
        # records that had a changed person among their candidates, and records a changed person now reaches
        to_score |= unknown_ids & set(previous.candidates["uid"][previous.candidates["id_number"].isin(
            out.changed_profiles)])
        changed_known = known["uid"].isin(out.changed_profiles)
        if len(unknown) and changed_known.any() and len(known) >= 100:
            unknown_f = _features(unknown)
            if model is None:
                model, out.trained = train(known_f, unknown_f), True
            reach_pairs = predict(known_f[changed_known.values], unknown_f, model=model)
            to_score |= _pair_uids(reach_pairs[reach_pairs["match_probability"] >= 0.5], unknown_ids)
        out.touched = touched | to_score | set(removed)
    lap("changes")
    scoring = _features(unknown[unknown["uid"].isin(to_score)])
    out.sent = len(scoring)
    out.scored = set(scoring["uid"])
    links: list[tuple[str, str, float]] = []
    if len(scoring) and len(known) >= 100:
        threshold = None if keep_pairs else 0.5
        if model is None and previous is None:  # train and score in one Splink session (scoring: every record)
            linker = _linker(known_f, scoring, None)
            model, out.trained = _trained(linker, len(known_f) + len(scoring)), True
            lap("train")
            pairs = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
            pairs = pairs[["uid_l", "uid_r", "match_probability"]]
        else:
            if model is None:
                model, out.trained = train(known_f, _features(unknown)), True
            lap("train")
            pairs = predict(known_f, scoring, threshold=threshold, model=model)
        lap("predict")
        confident = pairs[pairs["match_probability"] >= 0.5]
        registers = registers_of(known, set(confident["uid_l"]) | set(confident["uid_r"]))
        links = choose_links(confident, out.scored, registers)
        out.candidates = _as_candidates(confident, out.scored)
        if keep_pairs:
            out.pairs = pairs
    out.model = model
    if previous is not None and len(known) >= 100:  # every record not scored keeps its link (if still linkable)
        kept = previous.links[previous.links["uid"].isin(unknown_ids - out.scored)]
        links += list(zip(kept["uid"], kept["linked_id_number"], kept["match_probability"].astype(float),
                          strict=True))
    out.links = links
    lap("links")
    out.phases = phases
    out.seconds = time.perf_counter() - started
    return out


# ------------------------------------------------------------------------------------------ state and writing
def load_previous() -> tuple[Previous | None, Model | None]:
    """What the last run left, and the kept model (None, None on a fresh warehouse)."""
    def frame(sql: str) -> pd.DataFrame:
        cols, rows = db.query(sql)
        return pd.DataFrame(rows, columns=cols, dtype=object)  # object, as load_records (fast isin)

    model_rows = db.query("select settings, trained_on_records from linkage.model where id = 1")[1]
    model = None
    if model_rows:
        model = Model(model_rows[0][0], frame("select name_norm, tf_name_norm from linkage.name_tf"),
                      model_rows[0][1])
    records = frame("select uid, fingerprint, id_number, doubted, person from linkage.record_state")
    if records.empty:
        return None, model
    previous = Previous(
        records=records,
        profiles=frame("select id_number, fingerprint from linkage.profile_state"),
        candidates=frame("select uid, id_number, match_probability from linkage.candidate_pair"),
        links=frame("""select source || '|' || source_object || '|' || source_record_id as uid, linked_id_number,
                              match_probability from linkage.probabilistic_links where linked_id_number is not null"""))
    return previous, model


def _copy(conn, table: str, columns: list[str], rows) -> None:
    """COPY ``rows`` (a DataFrame, its columns in order, or an iterable of tuples) into ``table``."""
    if isinstance(rows, pd.DataFrame):  # whole columns to Python lists: no per-row pandas access
        rows = zip(*(rows[c].astype(object).where(rows[c].notna(), None).tolist() for c in rows.columns),
                   strict=True)
    with conn.cursor().copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
        for row in rows:
            copy.write_row(row)


def _delete_uids(conn, uids: set[str], full: bool) -> None:
    """Remove the state of ``uids`` (all of it on a full resolution) before the run writes theirs."""
    if full:
        conn.execute("truncate linkage.record_state, linkage.candidate_pair, linkage.probabilistic_links")
        return
    conn.execute("create temporary table touched_uid (uid text primary key) on commit drop")
    _copy(conn, "touched_uid", ["uid"], ((u,) for u in uids))
    conn.execute("analyze touched_uid")
    conn.execute("delete from linkage.record_state s using touched_uid t where s.uid = t.uid")
    conn.execute("delete from linkage.candidate_pair s using touched_uid t where s.uid = t.uid")
    conn.execute("""delete from linkage.probabilistic_links p using touched_uid t
                    where p.source || '|' || p.source_object || '|' || p.source_record_id = t.uid""")


KEY_SQL = """case when {p} like 'N:%' then 'N' || left(md5(substr({p}, 3)), 20)
                  else 'P' || left(util.hub_id_hash({p}), 20) end"""  # int_residents__resolved's resident_key


def key_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Records whose person changed between two runs (``before``/``after``: uid, person) and what kind of change:
    ``merge`` — the record's old resident is gone, absorbed into a resident that already existed; ``split`` —
    the record left a resident that goes on, into a new one; ``relink`` — anything else (moved between two
    residents that both go on, or its resident renamed by a corrected number)."""
    joined = before.merge(after, on="uid", suffixes=("_old", "_new"))
    moved = joined[joined["person_old"] != joined["person_new"]]
    old_gone = ~moved["person_old"].isin(set(after["person"]))
    new_existed = moved["person_new"].isin(set(before["person"]))
    kind = pd.Series("relink", index=moved.index)
    kind[old_gone & new_existed] = "merge"
    kind[~old_gone & ~new_existed] = "split"
    return moved.assign(kind=kind)[["uid", "person_old", "person_new", "kind"]]


def link_probabilistically(full_refresh: bool = False, run_id: str = "manual", retrain: bool | None = None) -> int:
    """Bring ``linkage.probabilistic_links`` (links and doubted numbers) up to date; returns the number of links.

    Incremental unless ``full_refresh`` or the warehouse has no state yet (see ``resolve``). ``retrain``
    (default: ``full_refresh``) trains a new model; otherwise the kept one scores. Records whose resident changed
    are written to ``linkage.resident_key_change`` (merge / split / relink) for ``run_id``."""
    retrain = full_refresh if retrain is None else retrain
    started = time.perf_counter()
    previous, model = load_previous()
    records = load_records()
    loaded = time.perf_counter() - started
    if previous is not None and len(previous.profiles) < 100:
        previous = None  # the last run linked nothing (too few known persons): nothing to keep
    result = resolve(records, model=None if retrain else model, previous=None if full_refresh else previous)
    write_started = time.perf_counter()
    person = pd.DataFrame({"uid": records["uid"], "person": result.cluster_of(records)})
    usable = records["id_status"].isin(USABLE_STATUSES)
    state = pd.DataFrame({"uid": records["uid"], "fingerprint": records["fingerprint"],
                          "id_number": records["id_number"].where(usable, None),
                          "doubted": records["uid"].isin(result.doubted), "person": person["person"]})
    full = not result.incremental
    if not full:
        state = state[state["uid"].isin(result.touched)]
    changes = (key_changes(previous.records[["uid", "person"]], person) if previous is not None
               else pd.DataFrame(columns=["uid", "person_old", "person_new", "kind"]))
    linked = {uid: (id_number, p) for uid, id_number, p in result.links}
    with db.connect(role=db.TRANSFORMER) as conn:
        _delete_uids(conn, result.touched, full)
        _copy(conn, "linkage.record_state", ["uid", "fingerprint", "id_number", "doubted", "person"], state)
        outcome = sorted((set(linked) | result.doubted) & result.touched)
        _copy(conn, "linkage.probabilistic_links", ["source", "source_object", "source_record_id",
                                                    "linked_id_number", "match_probability", "id_doubted"],
              ((*uid.split("|", 2), *linked.get(uid, (None, 0.0)), uid in result.doubted) for uid in outcome))
        if result.candidates is not None:
            _copy(conn, "linkage.candidate_pair", ["uid", "id_number", "match_probability"],
                  result.candidates)
        if full:
            conn.execute("truncate linkage.profile_state")
            _copy(conn, "linkage.profile_state", ["id_number", "fingerprint"], result.profiles)
        elif result.changed_profiles:
            conn.execute("create temporary table changed_profile (id_number text primary key) on commit drop")
            _copy(conn, "changed_profile", ["id_number"], ((i,) for i in result.changed_profiles))
            conn.execute("delete from linkage.profile_state s using changed_profile c where s.id_number = c.id_number")
            _copy(conn, "linkage.profile_state", ["id_number", "fingerprint"],
                  result.profiles[result.profiles["id_number"].isin(result.changed_profiles)])
        if result.trained and result.model is not None:
            conn.execute("""insert into linkage.model (id, settings, trained_on_records) values (1, %s::jsonb, %s)
                            on conflict (id) do update set settings = excluded.settings, trained_at = now(),
                                trained_on_records = excluded.trained_on_records""",
                         (json.dumps(result.model.settings), result.model.trained_on_records))
            conn.execute("truncate linkage.name_tf")
            _copy(conn, "linkage.name_tf", ["name_norm", "tf_name_norm"], result.model.name_tf)
        if len(changes):
            conn.execute("""create temporary table person_change (uid text, person_old text, person_new text,
                            kind text) on commit drop""")
            _copy(conn, "person_change", ["uid", "person_old", "person_new", "kind"], changes)
            conn.execute(f"""insert into linkage.resident_key_change
                                 (run_id, source, source_object, source_record_id, old_key, new_key, kind)
                             select %s, split_part(uid, '|', 1), split_part(uid, '|', 2),
                                    substr(uid, length(split_part(uid, '|', 1)) + length(split_part(uid, '|', 2)) + 3),
                                    {KEY_SQL.format(p='person_old')}, {KEY_SQL.format(p='person_new')}, kind
                             from person_change""", (run_id,))
        conn.execute("""insert into linkage.linkage_run (run_id, mode, trained, records, touched, scored, links,
                            doubted, key_changes, seconds, phases) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                            %s::jsonb)""",
                     (run_id, "incremental" if result.incremental else "full", result.trained, len(records),
                      len(result.touched), result.sent, len(result.links), len(result.doubted), len(changes),
                      time.perf_counter() - started, json.dumps({"load": round(loaded, 3), **result.phases,
                                                                  "write": round(time.perf_counter() - write_started, 3)})))
    log.info("linkage (%s%s): %d records (%d changed since the last run), %d scored by Splink, %d links, %d valid "
             "numbers doubted, %d resident keys changed; load %.1fs, resolve %.1fs %s, write %.1fs",
             "incremental" if result.incremental else "full", ", model trained" if result.trained else "",
             len(records), len(result.touched), result.sent, len(result.links), len(result.doubted), len(changes),
             loaded, result.seconds, result.phases, time.perf_counter() - write_started)
    return len(result.links)
