"""Petitions (信访): daily XML exports ``xinfang_YYYYMMDD.xml`` into ``exchange_dir('petition')``.

Contract: shared/contracts/sources.md, section 5.

The export of day D runs at D 23:00 (+08:00, the simulator's clock time) and holds every petition that
changed in ``(D-1 23:00, D 23:00]``, shown as it stands at export time; a petition reappears in each later
file in which it changes again. Changes come from the world: received (``受理``), then its status history
(``updates``: ``办理中``, ``办结``); a status dated after the petition was closed is ignored, because a closed
petition does not reopen. ``closedAt`` stays empty, ``oneTimeResolved`` false and ``satisfaction``
``未评价`` until the petition is closed. Times are ISO-8601 to the second with ``+08:00``.

Generating the county (``since is None``) writes one file per day from the first day of the history to
the clock (days without changes get ``<petitions exportedAt="…"/>``); advancing writes the days whose
export time falls in ``(since, clock]``. At ``QuirkRates.malformed_xml`` a day's file is not well-formed
(cut short mid-element, or an unescaped ``&``); :func:`malformed_days` tells which.

Petitioner fields are drawn per petition (``record_rng``), so a petition's reappearances agree.

The dialect (govhub.sim.dialect) decides the export folder (flat or ``YYYYMMDD/``), the XML declaration, CDATA,
empty elements written ``<closedAt/>`` or ``<closedAt></closedAt>``, one line or one element per line, and how
names and addresses are written; the default is described above.

Truth links: ``('petition', 'xinfang', <petition id attribute>, petitioner pid)`` — the object is the
file stem without the date, as for the civil drops.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from govhub.settings import exchange_dir
from govhub.sim import runner
from govhub.sim.dialect import DEFAULT, Dialect
from govhub.sim.quirks import QuirkRates, quirky_address, quirky_id, quirky_name, record_rng
from govhub.sim.world import TZ, Petition, World

SOURCE = "petition"
OBJECT = "xinfang"
EXPORT_TIME = dt.time(23, 0)
CLOSED = "办结"
PHONE_MISSING_RATE = 0.08  # letters (来信) and walk-ins often leave no phone number


def file_name(day: dt.date) -> str:
    return f"{OBJECT}_{day:%Y%m%d}.xml"


def export_dir(out: Path, day: dt.date, dialect: Dialect = DEFAULT) -> Path:
    """Where the export of ``day`` lands: the exchange directory itself, or its folder ``YYYYMMDD/``."""
    return out / f"{day:%Y%m%d}" if dialect.petition_layout == "daily" else out


def _export_at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, EXPORT_TIME, TZ)


def _export_day(t: dt.datetime) -> dt.date:
    """The export that first carries a change made at ``t``."""
    day = t.astimezone(TZ).date()
    return day if t <= _export_at(day) else day + dt.timedelta(days=1)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(TZ).isoformat(timespec="seconds")


def history(p: Petition) -> list[tuple[dt.datetime, str]]:
    """(time, status) changes of a petition, received first; nothing after closure."""
    out = [(p.received_at, "受理")]
    for t, status in sorted(p.updates):
        if p.closed_at is not None and t > p.closed_at:
            continue
        out.append((t, status))
    return out


def _changes_by_day(world: World) -> dict[dt.date, list[int]]:
    first = world.start.date()
    by_day: dict[dt.date, set[int]] = {}
    for i, p in enumerate(world.petitions):
        for t, _ in history(p):
            # The first file of the history also carries anything older.
            by_day.setdefault(max(first, _export_day(t)), set()).add(i)
    return {day: sorted(ix) for day, ix in by_day.items()}


_CACHE: list = []  # [world, changes by day]


def _changes(world: World) -> dict[dt.date, list[int]]:
    if not _CACHE or _CACHE[0] is not world:
        _CACHE[:] = [world, _changes_by_day(world)]
    return _CACHE[1]


def _phone(rng: random.Random) -> str:
    if rng.random() < PHONE_MISSING_RATE:
        return ""
    return "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))


CDATA_TAGS = {"name", "address", "category", "targetDept"}  # free text an exporter may wrap in CDATA


def _element(tag: str, text: str | None, dialect: Dialect = DEFAULT) -> str:
    if not text:
        return f"<{tag}></{tag}>" if dialect.petition_empty == "pair" else f"<{tag}/>"
    if dialect.petition_cdata and tag in CDATA_TAGS and "]]>" not in text:
        return f"<{tag}><![CDATA[{text}]]></{tag}>"
    return f"<{tag}>{escape(text)}</{tag}>"


def _render_petition(world: World, rates: QuirkRates, p: Petition,
                     at: dt.datetime, dialect: Dialect = DEFAULT) -> tuple[dt.datetime, str]:
    """(updatedAt, XML of the petition as it stands at ``at``)."""

    def el(tag: str, text: str | None) -> str:  # this export's way of writing an element
        return _element(tag, text, dialect)

    updated, status = max((t, s) for t, s in history(p) if t <= at)
    closed = p.closed_at is not None and p.closed_at <= at and status == CLOSED
    rng = record_rng(world.seed, SOURCE, OBJECT, p.petition_id)
    person = world.persons[p.petitioner - 1]
    id_number = quirky_id(rng, person.id18, rates)
    name = dialect.petition_names.apply(rng, quirky_name(rng, person.name, rates))
    phone = _phone(rng)
    address = quirky_address(rng, p.building, rates, dialect.petition_address)
    lines = [
        f"  <petition id={quoteattr(p.petition_id)}>",
        f"    {el('channel', p.channel)}",
        f"    <petitioner>{el('idNumber', id_number)}{el('name', name)}{el('phone', phone)}"
        f"{el('address', address)}</petitioner>",
        f"    {el('headcount', str(p.headcount))}",
        f"    {el('receivedAt', _iso(p.received_at))}",
        f"    {el('category', p.category)}",
        f"    {el('targetDept', p.target_dept)}",
        f"    {el('isFirst', 'true' if p.is_first else 'false')}",
        f"    {el('escalation', p.escalation)}",
        f"    {el('status', status)}",
        f"    {el('closedAt', _iso(p.closed_at) if closed else None)}",
        f"    {el('oneTimeResolved', 'true' if closed and p.one_time_resolved else 'false')}",
        f"    {el('satisfaction', p.satisfaction if closed else '未评价')}",
        f"    {el('updatedAt', _iso(updated))}",
        "  </petition>",
    ]
    if not dialect.petition_pretty:
        return updated, "".join(line.strip() for line in lines)
    return updated, "\n".join(lines)


def is_malformed(world: World, rates: QuirkRates, day: dt.date) -> bool:
    return record_rng(world.seed, SOURCE, "malformed", day.isoformat()).random() < rates.malformed_xml


def malformed_days(world: World, rates: QuirkRates, first: dt.date | None = None,
                   last: dt.date | None = None) -> list[dt.date]:
    """Days in [first, last] (default: the whole simulated span) whose export is not well-formed."""
    day, last = first or world.start.date(), last or world.end.date()
    out = []
    while day <= last:
        if is_malformed(world, rates, day):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def render_day(world: World, rates: QuirkRates, day: dt.date, dialect: Dialect = DEFAULT) -> tuple[bytes, int]:
    """(file bytes, petitions in it) for the export of ``day``, malformed when that day's draw says so."""
    at = _export_at(day)
    changed = _changes(world).get(day, [])
    parts = sorted(_render_petition(world, rates, world.petitions[i], at, dialect) for i in changed)
    decl = "" if dialect.petition_declaration == "none" else \
        f'<?xml version="1.0" encoding="{dialect.petition_declaration}"?>'
    if dialect.petition_pretty:
        head = (decl + "\n" if decl else "") + f'<petitions exportedAt="{_iso(at)}"'
        text = head + (">\n" + "\n".join(x for _, x in parts) + "\n</petitions>\n" if parts else "/>\n")
    else:  # the whole document on one line
        head = decl + f'<petitions exportedAt="{_iso(at)}"'
        text = head + (">" + "".join(x for _, x in parts) + "</petitions>\n" if parts else "/>\n")
    if is_malformed(world, rates, day):
        rng = record_rng(world.seed, SOURCE, "corrupt", day.isoformat())
        text = _corrupt(rng, text, len(head), bool(parts))
    return text.encode("utf-8"), len(parts)


def _corrupt(rng: random.Random, text: str, head_len: int, has_petitions: bool) -> str:
    """An export job that died mid-file, or a clerk's '&' the exporter did not escape."""
    if has_petitions and rng.random() < 0.5:
        return text.replace("<targetDept>", "<targetDept>信访局&", 1)
    root_end = text.rstrip().rfind(">")  # cutting anywhere before the root's last '>' leaves it unclosed
    return text[: rng.randrange(head_len // 2, root_end)]


def _days(world: World, since: dt.datetime | None, clock: dt.datetime) -> list[dt.date]:
    last = clock.date() if _export_at(clock.date()) <= clock else clock.date() - dt.timedelta(days=1)
    first = world.start.date() if since is None else _export_day(since + dt.timedelta(microseconds=1))
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def write(world: World, rates: QuirkRates, since: dt.datetime | None,
          clock: dt.datetime, dialect: Dialect = DEFAULT) -> dict[str, dict[str, int]]:
    """Write the exports due in ``(since, clock]`` (the whole history when ``since`` is None)."""
    out: Path = exchange_dir(SOURCE)
    out.mkdir(parents=True, exist_ok=True)
    if since is None:  # a new county replaces the old one's exports (flat or in day folders)
        for f in [*out.glob(f"{OBJECT}_*.xml"), *out.glob(f"[0-9]*/{OBJECT}_*.xml")]:
            f.unlink()
        for d in out.glob("[0-9]" * 8):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
    counts = {OBJECT: 0, "files": 0}
    for day in _days(world, since, clock):
        data, n = render_day(world, rates, day, dialect)
        target = export_dir(out, day, dialect)
        target.mkdir(parents=True, exist_ok=True)
        (target / file_name(day)).write_bytes(data)
        counts[OBJECT] += n
        counts["files"] += 1
    return {SOURCE: counts}


def truth_links(world: World, dialect: Dialect = DEFAULT) -> Iterator[tuple[str, str, str, int]]:
    """(source, object, petition id, petitioner pid) for every petition the simulated span can export."""
    for p in world.petitions:
        if p.received_at <= world.end:
            yield SOURCE, OBJECT, p.petition_id, p.petitioner


if write not in runner.OTHER_WRITERS:
    runner.OTHER_WRITERS.append(write)
if truth_links not in runner.TRUTH_LINKS:
    runner.TRUTH_LINKS.append(truth_links)
