"""dbt's unit tests (ID repair, address parsing, warning rules, measures), which pipeline builds exclude
(govhub.transform.build): every one of them runs here, against the real PostgreSQL of the built tiny county."""

from __future__ import annotations


def test_every_dbt_unit_test_passes(tiny_county):
    from govhub import transform

    # dbt reads the column types of a unit-tested model's parents from the warehouse; publication moved the marts
    # out of `audit`, so they are created there again, empty (dbt's --empty: the structure, no rows)
    transform.run_dbt(["run", "--empty", "--select", "path:models/marts"])
    declared = [n for n in transform.manifest()["unit_tests"]]
    nodes = transform.run_dbt(["test", "--select", "test_type:unit"])  # raises TransformError naming a failure
    ran = [n for n in nodes if n.node.startswith("unit_test.")]
    assert len(declared) >= 18
    assert sorted(n.node for n in ran) == sorted(declared)
    assert all(n.status == "pass" for n in ran), [(n.node, n.status) for n in ran if n.status != "pass"]


def test_pipeline_builds_leave_unit_tests_out(tiny_county):
    from govhub import transform

    nodes = transform.build(select="stg_police__residents")
    assert any(n.node.startswith("model.") for n in nodes)
    assert not any(n.node.startswith("unit_test.") for n in nodes)
