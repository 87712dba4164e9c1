"""The simulator's house numbers in words, as clerks write them, at every scale's building numbers."""

from __future__ import annotations

import pytest

from govhub.sim.quirks import cn_number


@pytest.mark.parametrize(("n", "words"), [
    (3, "三"), (15, "十五"), (20, "二十"), (105, "一百零五"), (115, "一百一十五"), (120, "一百二十"),
    (1000, "一千"), (1005, "一千零五"), (1015, "一千零一十五"), (1100, "一千一百"), (1234, "一千二百三十四"),
    (9999, "九千九百九十九"), (10000, "10000"), (23456, "23456"),
])
def test_house_numbers_in_words(n, words):
    # a city's roads run past 999 (the city scale's generation failed there before)
    assert cn_number(n) == words
