"""`hub docs`: dbt docs generate works against the built warehouse."""

from __future__ import annotations

import json

from govhub.transform import target_dir


def test_docs_site_is_generated_with_the_published_models(hub_env):
    from govhub.cli import main
    from govhub.transform import run_dbt

    run_dbt(["run-operation", "install_udfs"])
    assert main(["docs"]) == 0
    index = target_dir() / "index.html"
    assert index.exists()
    manifest = json.loads((target_dir() / "manifest.json").read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert {"fct_event", "risk_warning", "agg_grid_month", "bridge_resident_tag", "restricted_resident"} <= models
    # every published model states its grain
    marts = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "audit"]
    assert marts and all(n["description"].strip().startswith("One row per") for n in marts), \
        [n["name"] for n in marts if not n["description"].strip().startswith("One row per")]
