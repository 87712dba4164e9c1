"""Compare the warehouse's linkage and grid assignment with the simulator's ground truth (`hub evaluate`)."""

from __future__ import annotations

from collections import Counter, defaultdict

from govhub import db
from govhub.settings import TRUTH_DB


def _pairs(counter: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in counter.values())


def pairwise(records: list[tuple[str, int, str]]) -> dict[str, float]:
    """records: (predicted cluster, true entity, group label) -> pairwise precision / recall / F1."""
    predicted = Counter(r[0] for r in records)
    truth = Counter(r[1] for r in records)
    both = Counter((r[0], r[1]) for r in records)
    tp, pp, tt = _pairs(both), _pairs(predicted), _pairs(truth)
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"records": len(records), "precision": round(precision, 5), "recall": round(recall, 5), "f1": round(f1, 5)}


def evaluate() -> dict[str, object]:
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
    report["grid"] = _grid_accuracy()
    report["resident_grid"] = _resident_grid(joined)
    return report


def _grid_accuracy() -> dict[str, object]:
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
