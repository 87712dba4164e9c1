"""The hidden population: ID numbers are unique at every scale, as issuance guarantees."""

from __future__ import annotations

from collections import Counter

from govhub.sim.world import SCALES, generate_world


def test_county_population_has_unique_id_numbers_and_no_birth_pile_up():
    world = generate_world(SCALES["county"], 20261125)
    ids = [p.id18 for p in world.persons]
    assert len(ids) >= 350_000
    assert len(set(ids)) == len(ids)
    # children are not piled onto the day before the simulated history starts
    busiest_day, births = Counter(p.birth for p in world.persons).most_common(1)[0]
    assert births < 100, (busiest_day, births)
