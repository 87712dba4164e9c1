"""Compare the warehouse's linkage and grid assignment with the simulator's ground truth (`hub evaluate`).

Every report puts the hub beside a plain Splink configuration (govhub.linkage_baseline) run on the same records,
overall, per source and per ID defect kind (derived from the record's number as sent against the person's true
number). ``inject`` adds ID defects the simulator does not write (someone else's valid number, transposed
digits, ...) to a *copy* of the records and re-runs the hub's linkage step and the baseline on it: the
robustness of "a valid ID decides". ``holdout`` generates counties on seeds and dialects never used for
tuning, runs the whole pipeline on each and reports them. ``address_report`` judges every address the truth can
place (a person record's address against the person's true home, a police incident's location against its
true building) per address *style*, read from the text itself (``address_styles``), never from the simulator.
"""

from __future__ import annotations

import os
import random
import re
import unicodedata
from collections import Counter, defaultdict

import pandas as pd

from govhub import db
from govhub.settings import TRUTH_DB

DEFECT_KINDS = ("none", "missing", "wrong_check", "transposed", "substituted", "legacy15", "lower_x", "fullwidth",
                "spaces", "other_valid", "other")
INJECTABLE = ("missing", "wrong_check", "transposed", "substituted", "legacy15", "lower_x", "fullwidth", "spaces",
              "other_valid")


def _pairs(counter: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in counter.values())


def pairwise(records: list[tuple[str, int, str]]) -> dict[str, float]:
    """records: (predicted cluster, true entity, group label) -> pairwise precision / recall / F1."""
    predicted = Counter(r[0] for r in records)
    truth = Counter(r[1] for r in records)
    both = Counter((r[0], r[1]) for r in records)
    tp, pp, tt = _pairs(both), _pairs(predicted), _pairs(truth)
    return _scores(len(records), tp, pp, tt)


def _scores(n: int, tp: int, pp: int, tt: int) -> dict[str, float]:
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"records": n, "precision": round(precision, 5), "recall": round(recall, 5), "f1": round(f1, 5),
            "true_pairs": tt, "predicted_pairs": pp}


def pairwise_involving(records: list[tuple[str, int, bool]]) -> dict[str, float]:
    """Pairwise scores over the pairs that involve at least one flagged record ((cluster, entity, flagged))."""
    def counts(rows):
        return (_pairs(Counter((c, e) for c, e, _ in rows)), _pairs(Counter(c for c, _, _ in rows)),
                _pairs(Counter(e for _, e, _ in rows)))
    every = counts(records)
    unflagged = counts([r for r in records if not r[2]])
    tp, pp, tt = (a - b for a, b in zip(every, unflagged, strict=True))
    return _scores(sum(1 for r in records if r[2]), tp, pp, tt)


# ------------------------------------------------------------------------------------------ ID numbers
_FULLWIDTH = str.maketrans("０１２３４５６７８９ＸｘＡＢＣＤＥＦ　", "0123456789XxABCDEF ")


def clean_id(raw: str | None) -> tuple[str | None, str]:
    """(cleaned number, status) as util.hub_id_clean / hub_id_status read a number as sent."""
    from stdnum.cn import ric

    if raw is None or raw != raw:
        return None, "missing"
    compact = "".join(ch for ch in str(raw).translate(_FULLWIDTH) if not ch.isspace() and ch != "-").upper()
    if not compact:
        return None, "missing"
    if len(compact) == 15 and compact.isdigit():
        body = compact[:6] + "19" + compact[6:]
        compact = body + ric.calc_check_digit(body + "0")
    if len(compact) != 18 or not compact[:17].isdigit() or compact[17] not in "0123456789X":
        return compact, "malformed"
    from govhub.linkage import id_birth

    if id_birth(compact) is None:
        return compact, "invalid_date"
    if ric.calc_check_digit(compact) != compact[17]:
        return compact, "invalid_check"
    return compact, "repaired" if raw != compact else "valid"


def defect_kind(raw: str | None, true_id: str | None) -> str:
    """How the number as sent differs from the person's true number."""
    if true_id is None:
        return "other"
    if raw is None or raw != raw or not str(raw).strip():
        return "missing"
    if raw == true_id:
        return "none"
    clean, status = clean_id(raw)
    if clean == true_id:
        if len(str(raw).strip()) == 15:
            return "legacy15"
        if any(unicodedata.east_asian_width(ch) == "F" for ch in raw):
            return "fullwidth"
        if any(ch.isspace() or ch == "-" for ch in raw):
            return "spaces"
        return "lower_x" if raw.endswith("x") else "other"
    if clean and len(clean) == 18:
        if clean[:17] == true_id[:17]:
            return "wrong_check"
        diff = [i for i in range(17) if clean[i] != true_id[i]]
        if status in ("valid", "repaired"):
            return "other_valid"
        if len(diff) == 2 and diff[1] == diff[0] + 1 and clean[diff[0]] == true_id[diff[1]]:
            return "transposed"
        if len(diff) == 1:
            return "substituted"
    return "other"


def inject_defects(records: pd.DataFrame, true_id: dict[str, str], rates: dict[str, float], seed: int,
                   neighbours: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """A copy of ``records`` with extra ID defects: ``rates`` kind -> share of records carrying their true valid
    number. ``other_valid`` takes the number of someone in the same building when there is one (a relative, the
    hard case), else of a random person of the county."""
    from govhub.sim.idnumbers import distort_id

    bad = set(rates) - set(INJECTABLE)
    if bad:
        raise ValueError(f"unknown defect kind(s) {sorted(bad)}; known: {list(INJECTABLE)}")
    out = records.copy()
    everyone = sorted(set(true_id.values()))
    rng = random.Random(seed)
    raws = out["id_raw"].tolist()
    for i, uid in enumerate(out["uid"]):
        truth = true_id.get(uid)
        if truth is None or raws[i] != truth:
            continue
        r = rng.random()
        for kind, rate in rates.items():
            if r >= rate:
                r -= rate
                continue
            if kind == "transposed":
                spots = [j for j in range(16) if truth[j] != truth[j + 1]]
                j = rng.choice(spots)
                raws[i] = truth[:j] + truth[j + 1] + truth[j] + truth[j + 2:]
            elif kind == "substituted":
                j = rng.randrange(17)
                raws[i] = truth[:j] + rng.choice([d for d in "0123456789" if d != truth[j]]) + truth[j + 1:]
            elif kind == "other_valid":
                near = [n for n in (neighbours or {}).get(truth, []) if n != truth]
                raws[i] = rng.choice(near) if near else rng.choice(everyone)
            else:
                raws[i] = distort_id(rng, truth, kind)
            break
    cleaned = [clean_id(r) for r in raws]
    out["id_raw"] = raws
    out["id_number"] = [c for c, _ in cleaned]
    out["id_status"] = [s for _, s in cleaned]
    return out


# ------------------------------------------------------------------------------------------ linkage report
def _truth() -> tuple[dict[str, int], dict[int, str], dict[str, list[str]]]:
    _, rows = db.query("select source || '|' || object || '|' || record_id, pid from truth_record", database=TRUTH_DB)
    _, people = db.query("select pid, id18, building_id from truth_person", database=TRUTH_DB)
    by_building = defaultdict(list)
    for _, id18, building in people:
        by_building[building].append(id18)
    neighbours = {id18: by_building[b] for _, id18, b in people}
    return dict(rows), {pid: id18 for pid, id18, _ in people}, neighbours


def compare(records: pd.DataFrame, clusters: dict[str, pd.Series], pid_of: dict[str, int],
            id_of: dict[int, str]) -> dict[str, object]:
    """Hub and baseline (``clusters``: name -> uid-indexed cluster) overall, per source, per ID defect kind."""
    judged = records[records["uid"].isin(pid_of)]
    pids = judged["uid"].map(pid_of)
    kinds = [defect_kind(raw, id_of.get(pid)) for raw, pid in zip(judged["id_raw"], pids, strict=True)]
    report: dict[str, object] = {}
    for name, cluster in clusters.items():
        c = judged["uid"].map(cluster).tolist()
        rows = list(zip(c, pids, judged["source"], kinds, strict=True))
        people_of = defaultdict(set)
        for _, p, s, _ in rows:
            people_of[s].add(p)
        report[name] = {
            "overall": pairwise([(k, p, s) for k, p, s, _ in rows]),
            # a source's records, judged on their pairs with every other record of the same people
            "per_source": {s: pairwise([(k, p, s2) for k, p, s2, _ in rows if p in ps])
                           for s, ps in sorted(people_of.items())},
            # the pairs that involve a record with that defect
            "per_id_defect": {kind: pairwise_involving([(k, p, d == kind) for k, p, _, d in rows])
                              for kind in DEFECT_KINDS if kind in kinds},
        }
    return report


def linkage_report(inject: dict[str, float] | None = None, seed: int = 1) -> dict[str, object]:
    """Hub vs baseline on the warehouse's person records (on an injected copy when ``inject``)."""
    import time

    from govhub import linkage, linkage_baseline

    records = linkage.load_records()
    pid_of, id_of, neighbours = _truth()
    out: dict[str, object] = {}
    if inject:
        true_id = {uid: id_of[pid] for uid, pid in pid_of.items() if pid in id_of}
        records = inject_defects(records, true_id, inject, seed, neighbours)
        out["injected"] = {"rates": inject, "seed": seed}
    started = time.perf_counter()
    resolution = linkage.resolve(records, keep_pairs=True)
    hub = pd.Series(resolution.cluster_of(records.astype(object).where(records.notna(), None)).values,
                    index=records["uid"].values)
    hub_seconds = time.perf_counter() - started
    if not inject:  # the pipeline's own outcome (dbt applied the same resolution)
        _, xref = db.query("select source || '|' || source_object || '|' || source_record_id, resident_key "
                           "from linkage.resident_xref")
        hub = pd.Series(dict(xref)).reindex(records["uid"]).fillna(hub)
    started = time.perf_counter()
    baseline = linkage_baseline.run(records)
    baseline_seconds = time.perf_counter() - started
    out.update(compare(records, {"hub": hub, "baseline": baseline}, pid_of, id_of))
    out["blocking"] = _reachability(records, resolution, pid_of)
    out["linkage"] = {"sent_to_splink": resolution.sent, "doubted_numbers": len(resolution.doubted),
                      "links": len(resolution.links), "hub_seconds": round(hub_seconds, 2),
                      "baseline_seconds": round(baseline_seconds, 2)}
    return out


def _reachability(records: pd.DataFrame, resolution, pid_of: dict[str, int]) -> dict[str, object]:
    """Of the true (record sent to Splink, known person) pairs, the share some blocking rule reaches."""
    usable = records["id_status"].isin(["valid", "repaired"]) & ~records["uid"].isin(resolution.doubted)
    person_ids = defaultdict(set)
    for uid, id_number in zip(records.loc[usable, "uid"], records.loc[usable, "id_number"], strict=True):
        if uid in pid_of:
            person_ids[pid_of[uid]].add(id_number)
    sent = records.loc[~usable, "uid"]
    true_pairs = {(uid, n) for uid in sent if uid in pid_of for n in person_ids.get(pid_of[uid], ())}
    pairs = resolution.pairs
    reached = set()
    if pairs is not None:
        reached = set(zip(pairs["uid_l"], pairs["uid_r"], strict=True)) | set(zip(pairs["uid_r"], pairs["uid_l"], strict=True))
    hit = sum(1 for p in true_pairs if p in reached)
    return {"true_pairs": len(true_pairs), "reached": hit, "share": round(hit / len(true_pairs), 5) if true_pairs else 1.0}


def evaluate(inject: dict[str, float] | None = None, seed: int = 1, baseline: bool = True) -> dict[str, object]:
    _, xref = db.query("select source, source_object, source_record_id, resident_key, match_method from linkage.resident_xref")
    _, truth = db.query("select source, object, record_id, pid from truth_record", database=TRUTH_DB)
    true_pid = {(s, o, r): pid for s, o, r, pid in truth}
    joined = [(key, true_pid[(s, o, r)], s, m) for s, o, r, key, m in xref if (s, o, r) in true_pid]
    report: dict[str, object] = {"overall": pairwise([(k, p, s) for k, p, s, _ in joined])}
    # per source: the records of that source, judged on their pairs with every other record of the same people
    by_source = defaultdict(list)
    people_of = defaultdict(set)
    for _key, p, s, _method in joined:
        people_of[s].add(p)
    for source, pids in people_of.items():
        by_source[source] = pairwise([(k, p, s) for k, p, s, _ in joined if p in pids])
    report["per_source"] = dict(by_source)
    methods = Counter(m for *_, m in joined)
    # a method is correct when its record's cluster holds the record's true person's majority
    majority = defaultdict(Counter)
    for k, p, _, _ in joined:
        majority[k][p] += 1
    correct = Counter(m for k, p, _, m in joined if majority[k].most_common(1)[0][0] == p)
    report["per_method"] = {m: {"records": n, "in_correct_cluster": round(correct[m] / n, 5)} for m, n in methods.items()}
    if baseline:
        report["linkage"] = linkage_report(inject, seed)
    report["grid"] = _grid_accuracy()
    report["resident_grid"] = _resident_grid(joined)
    report["addresses"] = address_report()
    return report


def holdout(seeds: list[tuple[int, int | None]], scale: str = "small", inject: dict[str, float] | None = None
            ) -> dict[str, object]:
    """Generate each (seed, dialect) county (it replaces this HUB_HOME's county), run the whole pipeline on it,
    evaluate. For seeds and dialects never used while tuning: what a new county would see."""
    from govhub.orchestrate import run_pipeline
    from govhub.sim import justice, runner

    out = {}
    for seed, dialect in seeds:
        runner.generate(scale, seed=seed, dialect_seed=dialect, reset=True)
        justice.stop_background()
        justice.start_background()  # the API serves the new county (it reads the state when it starts)
        if not os.environ.get("HUB_DATABASE_URL"):  # the restarted API listens on a new port: point justice_api at it
            from govhub.extract.connections import define_simulator_connections

            define_simulator_connections()
        db.drop_warehouse_schemas()
        outcomes = run_pipeline()
        label = f"{scale}/seed{seed}/dialect{dialect}"
        out[label] = {"dags": {o.dag_id: o.state for o in outcomes}, **evaluate()}
        if inject:
            out[label]["linkage_injected"] = linkage_report(inject)
    return out


def _grid_accuracy() -> dict[str, object]:
    if db.query("select to_regclass('published.fct_event') is null")[1][0][0]:
        return {"events": 0, "note": "nothing published"}
    _, events = db.query("select source, source_event_id, grid_key, grid_assignment from published.fct_event")
    _, truth = db.query("select source, record_id, grid_code from truth_event", database=TRUTH_DB)
    true_grid = {(s, r): g for s, r, g in truth}
    judged = [(a, g, true_grid.get((s, e))) for s, e, g, a in events if (s, e) in true_grid]
    with_grid = [x for x in judged if x[1] is not None]
    correct = sum(1 for _, g, t in with_grid if g == "G" + t)
    by_method = Counter(a for a, _, _ in judged)
    return {"events": len(judged), "with_grid": round(len(with_grid) / max(len(judged), 1), 4),
            "grid_correct": round(correct / max(len(with_grid), 1), 4),
            # the share of judged events whose grid is the true one (no grid counts as wrong)
            "true_grid": round(correct / max(len(judged), 1), 4), "by_assignment": dict(by_method)}


def _resident_grid(joined: list[tuple[str, int, str, str]]) -> dict[str, object]:
    """Residents of `published.dim_resident` with a grid, and with their true home's grid (the person most of the
    resident's records belong to), over the residents the truth knows."""
    if db.query("select to_regclass('published.dim_resident') is null")[1][0][0]:
        return {"residents": 0, "note": "nothing published"}
    _, residents = db.query("select resident_key, current_grid_key from published.dim_resident")
    _, homes = db.query("select pid, grid_code from truth_person", database=TRUTH_DB)
    home = dict(homes)
    people = defaultdict(Counter)
    for key, pid, _, _ in joined:
        people[key][pid] += 1
    judged = [(grid, home.get(people[key].most_common(1)[0][0])) for key, grid in residents if key in people]
    with_grid = [(g, t) for g, t in judged if g is not None]
    correct = sum(1 for g, t in with_grid if t is not None and g == "G" + t)
    return {"residents": len(judged), "with_grid": round(len(with_grid) / max(len(judged), 1), 4),
            "grid_correct": round(correct / max(len(with_grid), 1), 4)}


# ------------------------------------------------------------------------------------------ address styles
_COUNTY_WORDS = ("自治县", "自治旗", "县", "旗", "区", "市")
_TOWNSHIP_WORDS = ("街道办事处", "办事处", "街道", "苏木", "镇", "乡")
_VILLAGE_WORDS = ("村民委员会", "村委会", "社区居委会", "居民委员会", "居委会", "社区", "嘎查", "村")
_NUMERAL = "[0-9〇零一二两三四五六七八九十百千]"
_CHINESE_NUMERAL = re.compile("[〇零一二两三四五六七八九十百千]")
_PUNCTUATION = re.compile(r"[\s,.;:()\[\]{}<>\"'`~!?@$%^&*_=+|\\/·•・、，。；：（）【】《》“”‘’！？…\-]+")
_UPPER = re.compile(r"^(?:.{1,12}?(?:特别行政区|自治区|省|自治州|市|州|盟|地区))+")
_GROUP = re.compile(f"^({_NUMERAL}+)(村民小组|小组|组|社|屯|队)")
_ROAD = re.compile("^([^0-9〇零一二两三四五六七八九十百千]{1,12}?(?:大道|大街|路|街|巷|弄))")
_HOUSE = re.compile(f"^({_NUMERAL}+)(号院|号(?!楼)|#)")
_BUILDING = re.compile(f"^({_NUMERAL}+)(栋|幢|号楼|座|单元)")
_BELOW_BUILDING = re.compile(f"^(?:{_NUMERAL}+(?:单元|层|楼|室))+")

ADDRESS_STYLES = (
    "plain", "province_prefecture_prefix", "county_prefix", "no_township", "missing_level_word",
    "village_not_in_registry", "fullwidth_digits", "chinese_numerals", "group_word_组", "group_word_社",
    "group_word_屯", "group_word_队", "group_word_小组", "road", "house_word_号院", "house_word_#", "bare_number",
    "no_house_number", "building_word_栋", "building_word_幢", "building_word_号楼", "building_word_座",
    "building_word_单元", "unit_or_room", "spaces_or_punctuation", "unparseable")


def _stem(name: str, words: tuple[str, ...]) -> str | None:
    for word in sorted(words, key=len, reverse=True):
        if name.endswith(word) and len(name) - len(word) >= 2:
            return name[: -len(word)]
    return None


class AddressStyler:
    """Names the styles an address is written in, from its text and the county's division names only.

    An address shows every style it carries: ``清河县马场镇王庄村三屯五号院`` is county_prefix, chinese_numerals,
    group_word_屯 and house_word_号院; ``plain`` is a township + village + N组 + N号 address in Arabic digits and
    nothing else. This reading is independent of the warehouse's parser (macros/addresses.sql), so a style the
    parser mishandles shows up as a low share assigned the true building."""

    def __init__(self, divisions: list[tuple[str, int]]):
        self.names: dict[int, list[tuple[str, bool]]] = defaultdict(list)  # level -> (name, written in full)
        words = {1: _COUNTY_WORDS, 2: _TOWNSHIP_WORDS, 3: _VILLAGE_WORDS}
        for name, level in divisions:
            if level not in words or not name:
                continue
            full = self.clean(name)
            self.names[level].append((full, True))
            stem = _stem(full, words[level])
            if stem:
                self.names[level].append((stem, False))
        for level in self.names:  # longest first: 王庄东村 before 王庄
            self.names[level].sort(key=lambda n: (-len(n[0]), not n[1]))

    @staticmethod
    def clean(text: str) -> str:
        return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", text))

    def _find(self, text: str, level: int, start_only: bool) -> tuple[int, int, bool] | None:
        """(start, end, written in full) of the first name of ``level`` in ``text``; a stem counts only when a
        level word or a number follows it (or, above the village, the next division's name)."""
        best = None
        for name, full in self.names.get(level, ()):
            at = text.find(name)
            while at >= 0:
                end = at + len(name)
                after = text[end:]
                ok = full or (level < 3 or re.match(_NUMERAL, after) or after.startswith(_VILLAGE_WORDS))
                if ok and (best is None or at < best[0]):
                    best = (at, end, full)
                    break
                at = text.find(name, at + 1)
            if start_only and best is not None and best[0] == 0:
                return best
        if start_only and (best is None or best[0] != 0):
            return None
        return best

    def styles(self, address: str) -> set[str]:
        out: set[str] = set()
        if re.search("[０-９]", address):
            out.add("fullwidth_digits")
        if _PUNCTUATION.search(unicodedata.normalize("NFKC", address)):
            out.add("spaces_or_punctuation")
        text = self.clean(address)
        village = self._find(text, 3, start_only=False)
        if village is None:  # a village name the registry does not have (a typo, another county), or none at all
            above = [x for x in (self._find(text, 2, False), self._find(text, 1, False)) if x is not None]
            cut = max((x[1] for x in above), default=0)  # after the township (or county) typed
            if cut and text[cut:].startswith(_TOWNSHIP_WORDS + _COUNTY_WORDS):
                cut += next(len(w) for w in sorted(_TOWNSHIP_WORDS + _COUNTY_WORDS, key=len, reverse=True)
                            if text[cut:].startswith(w))
            m = re.match(".{2,10}?(?:" + "|".join(_VILLAGE_WORDS) + ")", text[cut:])
            if m is None:
                out.add("unparseable")
                return out
            out.add("village_not_in_registry")
            head, rest = text[:cut], text[cut + m.end():]
        else:
            head, rest = text[: village[0]], text[village[1]:]
            if not village[2]:
                if rest.startswith(_VILLAGE_WORDS):  # the stem and another level word (红旗村委会)
                    rest = rest[len(next(w for w in sorted(_VILLAGE_WORDS, key=len, reverse=True)
                                         if rest.startswith(w))):]
                else:
                    out.add("missing_level_word")
        out |= self._head_styles(head)
        out |= self._rest_styles(rest)
        if not out - {"spaces_or_punctuation", "group_word_组"}:  # 组 is the registry's own word
            out.add("plain")
        return out

    def _head_styles(self, head: str) -> set[str]:
        out: set[str] = set()
        county = self._find(head, 1, start_only=False)
        township = self._find(head, 2, start_only=False)
        first = min((x[0] for x in (county, township) if x is not None), default=len(head))
        if first > 0 and _UPPER.match(head[:first]):
            out.add("province_prefecture_prefix")
        elif first > 0:
            out.add("unparseable")  # something before the county / township that is no division name
        if county is not None:
            out.add("county_prefix")
            if not county[2] and not head[county[1]:].startswith(_COUNTY_WORDS):
                out.add("missing_level_word")
        if township is None:
            out.add("no_township")
        elif not township[2] and not head[township[1]:].startswith(_TOWNSHIP_WORDS):
            out.add("missing_level_word")
        return out

    def _rest_styles(self, rest: str) -> set[str]:
        out: set[str] = set()
        numbers = []
        m = _GROUP.match(rest)
        if m:
            out.add("group_word_" + ("小组" if m.group(2) == "村民小组" else m.group(2)))
            numbers.append(m.group(1))
            rest = rest[m.end():]
        else:
            m = _ROAD.match(rest)
            if m:
                out.add("road")
                rest = rest[m.end():]
        m = _HOUSE.match(rest)
        if m:
            if m.group(2) != "号":
                out.add("house_word_" + m.group(2))
            numbers.append(m.group(1))
            rest = rest[m.end():]
            m = _BUILDING.match(rest)
            if m:
                out.add("building_word_" + m.group(2))
                numbers.append(m.group(1))
                rest = rest[m.end():]
            m = _BELOW_BUILDING.match(rest)
            if m:
                out.add("unit_or_room")
                rest = rest[m.end():]
        elif re.fullmatch(f"{_NUMERAL}+", rest):
            out.add("bare_number")
            numbers.append(rest)
            rest = ""
        else:
            out.add("no_house_number")
        if rest:
            out.add("unparseable")
        if any(_CHINESE_NUMERAL.search(n) for n in numbers):
            out.add("chinese_numerals")
        return out


def _judged_addresses() -> list[tuple[str, str, str | None, str | None]]:
    """(kind, address, true building, true grid) of every address the truth can place: person records' addresses
    (and the household register's registered address) against the person's home, police incidents' locations
    against the incident's building. Petitions, mediations and grid events are left out: the truth does not
    name the building their address text stands for."""
    _, people = db.query("select r.source, r.object, r.record_id, p.building_id, p.grid_code from truth_record as r "
                         "inner join truth_person as p using (pid)", database=TRUTH_DB)
    home = {(s, o, r): (b, g) for s, o, r, b, g in people}
    _, events = db.query("select record_id, building_id, grid_code from truth_event "
                         "where source = 'police' and object = 'JQ_JJXX'", database=TRUTH_DB)
    place = {r: (b, g) for r, b, g in events}
    out = []
    _, records = db.query("select source, source_object, source_record_id, address "
                          "from intermediate.int_person_records__unioned where address is not null")
    for s, o, r, address in records:
        # a petition's address is where the matter is (the truth does not say which building), not the home
        if (s, o, r) in home and s != "petition":
            out.append((f"{s}.{o}", address, *home[(s, o, r)]))
    _, registered = db.query("select source_record_id, registered_address from staging.stg_police__residents "
                             "where registered_address is not null")
    for r, address in registered:
        if ("police", "RK_CZRK", r) in home:
            out.append(("police.RK_CZRK.registered", address, *home[("police", "RK_CZRK", r)]))
    _, incidents = db.query("select source_record_id, location_text from staging.stg_police__incidents "
                            "where location_text is not null")
    for r, address in incidents:
        if r in place:
            out.append(("police.JQ_JJXX", address, *place[r]))
    return out


def _share(n: int, d: int) -> float:
    return round(n / d, 4) if d else 1.0


def address_report() -> dict[str, object]:
    """Every judged address (``_judged_addresses``) against the hub's assignment (int_addresses__matched), overall,
    per source field and per style (``AddressStyler``): how many, the share assigned the true building, the true
    grid and any grid, by match method."""
    if db.query("select to_regclass('intermediate.int_addresses__matched') is null")[1][0][0]:
        return {"addresses": 0, "note": "nothing built"}
    _, matched = db.query("select address, building_id, grid_code, match_method from intermediate.int_addresses__matched")
    hub = {a: (b, g, m) for a, b, g, m in matched}
    _, divisions = db.query("select division_name, division_level from staging.stg_grid__divisions")
    styler = AddressStyler([(n, int(level)) for n, level in divisions if level is not None])
    style_cache: dict[str, set[str]] = {}
    rows = []
    for kind, address, true_building, true_grid in _judged_addresses():
        building, grid, method = hub.get(address, (None, None, "not_matched"))
        if address not in style_cache:
            style_cache[address] = styler.styles(address)
        rows.append((kind, style_cache[address], method, building is not None and building == true_building,
                     grid is not None and grid == true_grid, grid is not None))

    def summary(subset: list[tuple]) -> dict[str, object]:
        n = len(subset)
        methods: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for _, _, method, _, right_grid, _ in subset:
            methods[method][0] += 1
            methods[method][1] += right_grid
        return {"count": n, "true_building": _share(sum(r[3] for r in subset), n),
                "true_grid": _share(sum(r[4] for r in subset), n), "with_grid": _share(sum(r[5] for r in subset), n),
                "by_method": {m: {"count": c, "true_grid": _share(ok, c)}
                              for m, (c, ok) in sorted(methods.items(), key=lambda x: -x[1][0])}}

    return {
        "judged": "person records' addresses (and registered addresses) against the person's true home; police "
                  "incidents' locations against their true building; styles read from the text",
        "overall": summary(rows),
        "per_source": {k: summary([r for r in rows if r[0] == k]) for k in sorted({r[0] for r in rows})},
        "per_style": {style: summary(subset) for style in ADDRESS_STYLES
                      if (subset := [r for r in rows if style in r[1]])},
    }


def address_style_lines(report: dict[str, object]) -> list[str]:
    """The per-style table of ``address_report`` as text lines (for `hub evaluate`'s printed report)."""
    styles = report.get("per_style") or {}
    if not styles:
        return []
    lines = [f"{'address style':<28}{'addresses':>10}{'building':>10}{'grid':>8}{'any grid':>10}  methods (count, true grid)"]
    for style, s in [("(all)", report["overall"]), *styles.items()]:
        methods = ", ".join(f"{m} {v['count']} {v['true_grid']:.1%}" for m, v in list(s["by_method"].items())[:4])
        lines.append(f"{style:<28}{s['count']:>10}{s['true_building']:>10.1%}{s['true_grid']:>8.1%}"
                     f"{s['with_grid']:>10.1%}  {methods}")
    return lines
