"""The plain Splink 5 configuration a competent user would write for these records — the yardstick of `hub evaluate`.

What it is (and is deliberately not): one deduplication over *every* person record, as the Splink tutorials
show it, with the library's own comparisons and no domain rules.

- Columns: the ID number as the hub's staging cleaned it (half-width, upper-case X, 15 -> 18 digits), the name
  as sent, birth date (stated, else the one a usable ID number encodes), sex, address (the hub's normalised
  key, so both sides read the same address text).
- Comparisons: ``ExactMatch`` on the ID number, ``NameComparison`` (exact / Jaro-Winkler 0.92, 0.88, 0.7),
  ``DateOfBirthComparison`` (exact / within a month, a year, ten years), ``ExactMatch`` on sex,
  ``LevenshteinAtThresholds`` on the address (1, 3).
- Blocking: ``block_on`` ID number, birth date, name, address.
- Training: ``probability_two_random_records_match`` estimated from deterministic rules (same ID number),
  u by random sampling, m by expectation maximisation on two blocking rules (birth date; name).
- Clusters: connected components of pairs with match probability >= 0.95.

No doubted numbers, no pinyin, no twin guard, no one-record-per-register guard: that is what the hub adds.
"""

from __future__ import annotations

import logging

import pandas as pd

log = logging.getLogger(__name__)
CLUSTER_THRESHOLD = 0.95


def prepare(records: pd.DataFrame) -> pd.DataFrame:
    """``records`` as govhub.linkage.load_records gives them -> the baseline's input columns."""
    from govhub.linkage import id_birth

    usable = records["id_status"].isin(["valid", "repaired"])
    birth = records["birth"].where(records["birth"].notna(), records["id_number"].where(usable).map(id_birth))
    birth = birth.map(lambda b: f"{b[:4]}-{b[4:6]}-{b[6:8]}" if isinstance(b, str) and len(b) == 8 else None)
    out = pd.DataFrame({"uid": records["uid"].values, "id_number": records["id_number"].values,
                        "name": records["name"].values, "birth_date": birth.values, "sex": records["sex"].values,
                        "address": records["address_key"].values})
    return out.astype(object).where(out.notna(), None)


def settings():
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        comparisons=[
            cl.ExactMatch("id_number"),
            cl.NameComparison("name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.LevenshteinAtThresholds("address", [1, 3]),
        ],
        blocking_rules_to_generate_predictions=[block_on("id_number"), block_on("birth_date"), block_on("name"),
                                                block_on("address")],
        retain_intermediate_calculation_columns=False,
    )


def run(records: pd.DataFrame) -> pd.Series:
    """uid -> cluster id of the plain Splink configuration."""
    from splink import Linker, block_on
    from splink.backends.duckdb import DuckDBAPI

    frame = prepare(records)
    linker = Linker(DuckDBAPI().register(frame), settings(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match([block_on("id_number")], recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1_000_000, seed=1)
    for rule in (block_on("birth_date"), block_on("name")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=CLUSTER_THRESHOLD).as_pandas_dataframe()
    return clusters.set_index("uid")["cluster_id"].reindex(frame["uid"]).fillna(frame.set_index("uid").index.to_series())
