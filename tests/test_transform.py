"""govhub.transform.build on the built tiny county (real dbt, real PostgreSQL): a seed is loaded again only when
a seed file changed since they were last loaded."""

from __future__ import annotations

from govhub import db, transform


def _seeds_run(nodes) -> set[str]:
    return {n.node.rsplit(".", 1)[-1] for n in nodes if n.node.startswith("seed.") and n.status == "success"}


def test_seeds_are_loaded_only_when_a_file_changed(tiny_county):
    seeds = set(transform.seed_checksums())
    assert {"char_pinyin", "event_taxonomy", "tag_code"} <= seeds
    # the first pass loaded every seed and recorded what it loaded
    assert set(transform.loaded_seeds()) == seeds
    # (the marts were published out of `audit`: their tests, relationships to the seeds, are left out here)
    marts = "path:models/marts path:models/restricted"
    nodes = transform.build(select="resource_type:seed", exclude=marts)
    assert _seeds_run(nodes) == set()
    # the seeds' data tests still run when the seeds are not loaded
    assert any(n.node.startswith("test.") and "event_taxonomy" in n.node and n.status == "pass" for n in nodes)

    # a seed whose recorded checksum is not its file's (the file changed since): the seeds are loaded again
    db.query("update ops.seed_load set checksum = 'before the change' where seed = 'event_taxonomy'")
    assert "event_taxonomy" not in transform.loaded_seeds()
    assert "event_taxonomy" in _seeds_run(transform.build(select="resource_type:seed", exclude=marts))
    assert set(transform.loaded_seeds()) == seeds
    rows = db.query("select count(*) from reference.event_taxonomy")[1][0][0]
    assert rows == sum(1 for _ in (transform.SEEDS_DIR / "event_taxonomy.csv").open(encoding="utf-8")) - 1
