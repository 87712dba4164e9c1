"""Resident ID numbers (GB 11643) and the ways departments send them."""

from __future__ import annotations

import datetime as dt
import random

from stdnum.cn import ric

OUTSIDE_REGIONS = ["340102", "341202", "410102", "320106", "370102", "510104", "420106", "130102", "440106", "360102"]
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def make_id(region6: str, birth: dt.date, seq: int, male: bool) -> str:
    """A valid 18-character ID; sequence parity encodes sex (odd = male)."""
    seq = seq % 1000
    if (seq % 2 == 1) != male:
        seq = (seq + 1) % 1000
    body = f"{region6}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def to_15(id18: str) -> str:
    """Legacy 15-digit form: 2-digit birth year, no check character."""
    return id18[:6] + id18[8:17]


def distort_id(rng: random.Random, id18: str, kind: str) -> str | None:
    """One department quirk of ``kind`` applied to a valid ID."""
    if kind == "legacy15":
        return to_15(id18) if id18[6:8] == "19" else id18
    if kind == "lower_x":
        return id18[:-1] + "x" if id18.endswith("X") else id18
    if kind == "fullwidth":
        return id18.translate(FULLWIDTH)
    if kind == "spaces":
        i = rng.choice([6, 14])
        return id18[:i] + " " + id18[i:]
    if kind == "wrong_check":
        wrong = [c for c in "0123456789X" if c != id18[-1]]
        return id18[:-1] + rng.choice(wrong)
    if kind == "missing":
        return None if rng.random() < 0.5 else ""
    raise ValueError(kind)
