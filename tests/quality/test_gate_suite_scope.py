"""The publication suite checks what dbt cannot, and never what a dbt test on the same column already checks
(dbt runs first and fails the build, so such an expectation could never fail in GX)."""

from __future__ import annotations

import yaml

from govhub.quality.gate import load_suites
from govhub.settings import REPO_ROOT


def dbt_column_tests() -> dict[tuple[str, str], list[tuple[str, dict, str]]]:
    """(model, column) -> [(test name, arguments, severity)] of the marts' schema files."""
    out: dict[tuple[str, str], list[tuple[str, dict, str]]] = {}
    for path in (REPO_ROOT / "dbt_project" / "models" / "marts").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            for column in model.get("columns", []):
                for test in column.get("data_tests", []) or []:
                    name, spec = (test, {}) if isinstance(test, str) else next(iter(test.items()))
                    spec = spec or {}
                    out.setdefault((model["name"], column["name"]), []).append(
                        (name, spec.get("arguments", {}), (spec.get("config") or {}).get("severity", "error")))
            for test in model.get("data_tests", []) or []:
                name = test if isinstance(test, str) else next(iter(test))
                out.setdefault((model["name"], "*"), []).append((name, {}, "error"))
    return out


def duplicates(expectation: dict, dbt: list[tuple[str, dict, str]]) -> bool:
    """Does a dbt test check the same thing at least as strictly (and at least as severely)?"""
    kind = expectation.get("type")
    blocking = bool(expectation.get("blocking", True))
    for name, args, severity in dbt:
        as_severe = severity == "error" or not blocking
        strict = "mostly" not in expectation or not blocking
        if kind == "expect_column_values_to_be_unique" and name == "unique":
            return True
        if kind == "expect_column_values_to_not_be_null" and name == "not_null" and as_severe and strict:
            return True
        if kind == "expect_column_values_to_be_in_set" and (
                (name == "accepted_values" and set(args.get("values", [])) <= set(expectation["value_set"]))
                or name == "relationships"):
            return True
        if kind == "expect_column_values_to_be_between" and name == "dbt_utils_free_range" and all(
                args.get(b) is not None and (expectation.get(b) is None or args[b] >= expectation[b]
                                             if b == "min_value" else expectation.get(b) is None or args[b] <= expectation[b])
                for b in ("min_value", "max_value") if expectation.get(b) is not None):
            return True
    return False


def test_no_expectation_repeats_a_dbt_test_on_the_same_column():
    dbt = dbt_column_tests()
    repeated = []
    for table, spec in load_suites().items():
        for e in spec.get("expectations") or []:
            if "column" in e and duplicates(e, dbt.get((table, e["column"]), [])):
                repeated.append(f"{table}.{e['column']}: {e['type']}")
            if str(e.get("sql", "")).startswith(("no_orphan", "one_row_per")):  # relationships / grain tests
                repeated.append(f"{table}: {e['sql']}")
    assert not repeated, repeated


def test_the_duplicate_detector_can_fire():
    dbt = dbt_column_tests()
    assert duplicates({"type": "expect_column_values_to_be_unique", "column": "event_key"}, dbt[("fct_event", "event_key")])
    assert duplicates({"type": "expect_column_values_to_be_between", "column": "close_rate", "min_value": 0,
                       "max_value": 1}, dbt[("agg_grid_month", "close_rate")])
    # dbt only warns on a missing valid_from: the blocking GX check is not a duplicate
    assert not duplicates({"type": "expect_column_values_to_not_be_null", "column": "valid_from", "blocking": True},
                          dbt[("bridge_resident_tag", "valid_from")])


def test_what_dbt_cannot_check_is_kept():
    suites = load_suites()
    names = {e.get("sql") for spec in suites.values() for e in spec.get("expectations") or []}
    assert {"reconciles_with_raw_police", "reconciles_with_raw_grid", "reconciles_with_raw_buildings",
            "county_counts_every_event", "flags_match_current_tags"} <= names
    # reconciliation with raw leaves out what staging leaves out: held batches and those not checked yet
    assert all("ops.excluded_batch" in e["unexpected_rows_query"] for spec in suites.values()
               for e in spec.get("expectations") or [] if str(e.get("sql", "")).startswith("reconciles_with_raw"))
    assert {t for t, spec in suites.items() if spec.get("volume")} >= {"dim_resident", "fct_event", "dim_grid"}
    assert any(e.get("column") == "name_masked" for e in suites["dim_resident"]["expectations"])
