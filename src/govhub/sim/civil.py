"""Civil affairs (民政): daily full-snapshot file drops into ``exchange_dir('civil')`` (contract section 3).

Each drop day ``D`` delivers, into the exchange directory (or its folder ``D/`` under a dialect with
``civil_layout == "daily"``, govhub.sim.dialect)::

    低保对象_D.csv  特困人员_D.xlsx  残疾人_D.csv  留守人员_D.csv  manifest_D.json   (manifest last)

Every file is the register *as of the end of day D*: a person is listed from the start of their world tag;
when the tag ends (or the person dies / moves out, learnt after a reporting lag) the registers with a
``状态`` column show ``停保`` for 30-90 days before the row disappears; the others drop the row at once.
Per-person values (ID as typed, name, address, amounts, date style) are drawn from a record generator
keyed by (register, person), so a person's row is byte-stable from one drop to the next and the hub's
snapshot diff sees only real changes.

How the department writes dates, amounts, statuses, addresses and names, which BOM and encoding it uses and
how its manifest counts rows are the dialect's choices (govhub.sim.dialect); the default is described here.

File quirks, drawn per (register, day): UTF-8 BOM bytes in front of GBK text (``csv_bom``), a ``合计``
totals row (``csv_totals_row``; also in the XLSX), a trailing blank line, CRLF or LF line ends.

Drop anomalies, one per day at most, drawn per day (see :func:`drop_anomaly`, :func:`drop_anomalies`):

* ``duplicate`` – day D is delivered on D and again, byte-identical, with the write of day D+1;
* ``late`` – day D is not delivered on D, only with the write of day D+1 (before D+1's own drop);
* ``truncated`` – one data file of day D is cut short (its sha256 and row count disagree with the
  manifest); the correct files and manifest are re-delivered with the write of day D+1.

History: generating the county (``since is None``) writes the last three drop days up to the clock;
advancing writes one drop per day in ``(since, clock]``. A drop of day D is due at D 22:00, before the
simulator's 23:00 clock.

Truth links (``source='civil'``): ``object`` is the file stem without the date (``低保对象``, ``特困人员``,
``残疾人``, ``留守人员``); ``record_id`` is the row's person ID field exactly as sent (``成员身份证号`` for
低保对象, ``身份证号`` otherwise, after the GBK round trip), or, when that field is empty,
``'~' + 姓名 + '|' + 家庭住址`` as sent. The rare collisions of that fallback keep the first person only.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import random
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from govhub.settings import exchange_dir
from govhub.sim import runner
from govhub.sim.dialect import DEFAULT, Dialect
from govhub.sim.quirks import QuirkRates, quirky_address, quirky_id, quirky_name, record_rng
from govhub.sim.world import BASE_END, Person, World

SOURCE = "civil"
OBJECTS = ("低保对象", "特困人员", "残疾人", "留守人员")
TAG_OF = {"低保对象": "subsistence_allowance", "特困人员": "extreme_poverty", "残疾人": "disabled",
          "留守人员": "left_behind"}
EXTENSION = {"低保对象": "csv", "特困人员": "xlsx", "残疾人": "csv", "留守人员": "csv"}
HEADERS = {
    "低保对象": ["户主身份证号", "成员身份证号", "姓名", "性别", "出生日期", "家庭住址", "所属乡镇",
             "所属村社区", "保障类别", "月保障金额", "救助开始日期", "状态"],
    "特困人员": ["身份证号", "姓名", "性别", "出生日期", "家庭住址", "所属乡镇", "所属村社区",
             "供养方式", "认定日期", "状态"],
    "残疾人": ["身份证号", "姓名", "性别", "残疾类别", "残疾等级", "家庭住址"],
    "留守人员": ["身份证号", "姓名", "类型", "监护人身份证号", "家庭住址"],
}
TOTALS_LABEL = "合计"
HISTORY_DROPS = 3  # drops written when the county is generated
DROP_TIME = dt.time(22, 0)  # a drop of day D is due at D 22:00 (the simulator clock ticks at 23:00)
ANOMALIES = ("duplicate", "late", "truncated")
# Quirks without a QuirkRates field (quirks.py is shared; these stay local, documented constants).
TRAILING_BLANK_RATE = 0.3
CRLF_RATE = 0.7
SLASH_DATE_RATE = 0.3  # 出生日期 as YYYY/M/D instead of YYYY-MM-DD (低保对象: Dialect.civil_birth_slash_rate)
# 月保障金额 >= 1000 typed as "1,230.00": Dialect.civil_thousands_rate (0.5 by default).
SUSPENDED_DAYS = (30, 90)  # how long an ended allowance stays listed as 停保
DEATH_LAG_DAYS = (7, 45)  # civil affairs learn of a death / move-out this much later
MOVE_LAG_DAYS = (15, 60)
BOM = b"\xef\xbb\xbf"
FILE_RE = re.compile(r"^(低保对象|特困人员|残疾人|留守人员|manifest)_\d{8}\.(csv|xlsx|json)$")
DAY_DIR_RE = re.compile(r"^\d{8}$")  # a drop's own folder (Dialect.civil_layout == "daily")


def file_name(obj: str, day: dt.date) -> str:
    return f"{obj}_{day:%Y%m%d}.{EXTENSION[obj]}"


def manifest_name(day: dt.date) -> str:
    return f"manifest_{day:%Y%m%d}.json"


# ------------------------------------------------------------------------------------------ registers
@dataclass(frozen=True)
class _Entry:
    pid: int
    start: dt.date  # first day listed
    end: dt.date | None  # first day 停保 (registers with 状态) / first day not listed (others)
    gone: dt.date | None  # first day not listed
    record_id: str
    cells: tuple  # the row without 状态
    amount: float | None  # 月保障金额, for the totals row
    order: tuple


def drop_dir(out: Path, day: dt.date, dialect: Dialect = DEFAULT) -> Path:
    """Where the drop of ``day`` lands: the exchange directory itself, or its folder ``YYYYMMDD/``."""
    return out / f"{day:%Y%m%d}" if dialect.civil_layout == "daily" else out


def _as_sent(text: str | None, encoding: str = "gbk") -> str | None:
    """What survives the file's encoding: an unencodable character arrives as '?' (so truth ids match the
    bytes). GB18030 encodes every character, so nothing changes there."""
    return None if text is None else text.encode(encoding, errors="replace").decode(encoding)


def _birth_text(rng: random.Random, birth: dt.date, slash_rate: float = SLASH_DATE_RATE) -> str:
    return f"{birth.year}/{birth.month}/{birth.day}" if rng.random() < slash_rate else birth.isoformat()


def _age(p: Person) -> float:
    return (BASE_END.date() - p.birth).days / 365.25


def _end(rng: random.Random, p: Person, tag: str) -> dt.date | None:
    """The day the register stops counting the person: tag end, or a death / move-out learnt late."""
    death_lag, move_lag = rng.randint(*DEATH_LAG_DAYS), rng.randint(*MOVE_LAG_DAYS)
    ends = [p.tag_ends[tag]] if tag in p.tag_ends else []
    if p.death_at:
        ends.append(p.death_at.date() + dt.timedelta(days=death_lag))
    if p.moved_out_at:
        ends.append(p.moved_out_at.date() + dt.timedelta(days=move_lag))
    return min(ends) if ends else None


def _record_id(id_sent: str | None, name: str, address: str) -> str:
    return id_sent if id_sent else f"~{name}|{address}"


def _build_entries(world: World, rates: QuirkRates, dialect: Dialect = DEFAULT) -> dict[str, list[_Entry]]:
    enc = dialect.civil_encoding

    def sent(text: str | None) -> str | None:  # what survives this department's file encoding
        return _as_sent(text, enc)

    households: dict[str, list[Person]] = {}
    for p in world.persons:
        households.setdefault(p.household, []).append(p)
    head_ids: dict[str, str | None] = {}

    def head_id(household: str) -> str | None:
        # One household record in the allowance system: its head's ID is typed once for all its members.
        if household not in head_ids:
            head = next((m for m in households[household] if m.relation == "01"), households[household][0])
            rng = record_rng(world.seed, SOURCE, "低保对象", "户主", household)
            head_ids[household] = sent(quirky_id(rng, head.id18, rates))
        return head_ids[household]

    out: dict[str, list[_Entry]] = {obj: [] for obj in OBJECTS}
    for p in world.persons:
        for obj in OBJECTS:
            tag = TAG_OF[obj]
            if tag not in p.tags:
                continue
            rng = record_rng(world.seed, SOURCE, obj, p.pid)
            start = max(p.tags[tag], p.birth)
            end = _end(rng, p, tag)
            if end is not None and end <= start:
                continue  # ended before it started (e.g. died before the award): never listed
            has_status = "状态" in HEADERS[obj]
            linger = rng.randint(*SUSPENDED_DAYS)
            gone = end + dt.timedelta(days=linger) if end is not None and has_status else end
            pid_id = sent(quirky_id(rng, p.id18, rates))
            name = sent(dialect.civil_names.apply(rng, quirky_name(rng, p.name, rates), gbk=enc == "gbk"))
            address = sent(quirky_address(rng, p.home, rates, dialect.civil_address))
            sex = "男" if p.sex == "1" else "女"
            birth = _birth_text(rng, p.birth, dialect.civil_birth_slash_rate if obj == "低保对象" else SLASH_DATE_RATE)
            b = p.home
            amount = None
            if obj == "低保对象":
                urban = not b.group_or_road.endswith("组")
                amount = round(rng.uniform(520, 900) if urban else rng.uniform(380, 720), 0)
                if rng.random() < 0.15:  # 重残/重病 add-on pushes some members past 1,000 yuan
                    amount += round(rng.uniform(300, 700), 0)
                sep = rng.random() < dialect.civil_thousands_rate
                amount_text = f"{amount:,.2f}" if sep else f"{amount:.2f}"
                if p.relation == "01":
                    pid_id = head_id(p.household)  # the head's member row repeats the household's head ID
                cells = (head_id(p.household), pid_id, name, sex, birth, address, b.township_name,
                         b.village_name, "城市低保" if urban else "农村低保", amount_text, dialect.civil_date(start))
                order = (b.village_code, p.household, p.relation, p.pid)
            elif obj == "特困人员":
                mode = "集中供养" if rng.random() < 0.25 else "分散供养"
                # 特困人员's 出生日期 has no format in the contract (低保对象's has two); 认定日期 is a date cell
                # or text in the department's date format.
                if dialect.civil_date_format != "iso":
                    birth = dialect.civil_date(p.birth)
                if dialect.civil_xlsx_dates == "all":
                    birth = p.birth
                recognised = start if dialect.civil_xlsx_dates != "none" else dialect.civil_date(start)
                cells = (pid_id, name, sex, birth, address, b.township_name, b.village_name, mode, recognised)
                order = (b.village_code, p.pid)
            elif obj == "残疾人":
                kinds = ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"]
                kind = rng.choices(kinds, weights=[12, 12, 2, 40, 10, 14, 10])[0]
                if "smd_patient" in p.tags:  # severe mental disorder: the disability is psychiatric
                    kind = "精神"
                grade = rng.choices(["一级", "二级", "三级", "四级"], weights=[10, 25, 30, 35])[0]
                cells = (pid_id, name, sex, kind, grade, address)
                order = (b.village_code, p.pid)
            else:
                age = _age(p)
                if age < 18:
                    kind, p_guardian = "留守儿童", 0.9
                elif age >= 60:
                    kind, p_guardian = "留守老人", 0.3
                elif p.sex == "2":
                    kind, p_guardian = "留守妇女", 0.0
                else:
                    continue  # the world tags men of working age too; no register type fits them
                adults = [m for m in households[p.household] if m.pid != p.pid and _age(m) >= 18]
                guardian = None
                if adults and rng.random() < p_guardian:
                    guardian = sent(quirky_id(rng, rng.choice(adults).id18, rates))
                cells = (pid_id, name, kind, guardian, address)
                order = (b.village_code, p.pid)
            out[obj].append(_Entry(p.pid, start, end, gone, _record_id(pid_id, name, address), cells, amount,
                                   order))
    for entries in out.values():
        entries.sort(key=lambda e: e.order)
    return out


_CACHE: list = []  # [world, rates, dialect, entries]: one county at a time, like runner._WORLD_CACHE
_RATES_USED: list = []  # [world, rates, dialect] of the last write, for truth_links (it gets no rates)


def _entries(world: World, rates: QuirkRates, dialect: Dialect = DEFAULT) -> dict[str, list[_Entry]]:
    if not _CACHE or _CACHE[0] is not world or _CACHE[1] != rates or _CACHE[2] != dialect:
        _CACHE[:] = [world, rates, dialect, _build_entries(world, rates, dialect)]
    return _CACHE[3]


def _listed(world: World, rates: QuirkRates, obj: str, day: dt.date,
            dialect: Dialect = DEFAULT) -> list[tuple[_Entry, tuple]]:
    out = []
    # 低保对象's 状态 values are the contract's; 特困人员's are the department's own (Dialect.civil_tekun_status).
    listed, ended = ("在保", "停保") if obj == "低保对象" else dialect.civil_tekun_status
    for e in _entries(world, rates, dialect)[obj]:
        if e.start > day or (e.gone is not None and day >= e.gone):
            continue
        if "状态" in HEADERS[obj]:
            out.append((e, (*e.cells, ended if e.end is not None and day >= e.end else listed)))
        else:
            out.append((e, e.cells))
    return out


def snapshot(world: World, rates: QuirkRates, obj: str, day: dt.date, dialect: Dialect = DEFAULT) -> list[tuple]:
    """The register ``obj`` as of the end of ``day`` (rows in file order, without totals)."""
    return [row for _, row in _listed(world, rates, obj, day, dialect)]


def _rows_and_totals(world: World, rates: QuirkRates, obj: str, day: dt.date,
                     dialect: Dialect = DEFAULT) -> tuple[list[tuple], list]:
    listed = _listed(world, rates, obj, day, dialect)
    header = HEADERS[obj]
    total = [""] * len(header)
    total[0] = TOTALS_LABEL
    total[header.index("姓名")] = f"共{len(listed)}人"
    if obj == "低保对象":  # the month's payout: members still 在保
        paid = sum(e.amount or 0 for e, row in listed if row[-1] == "在保")
        total[header.index("月保障金额")] = f"{paid:,.2f}"
    return [row for _, row in listed], total


# ------------------------------------------------------------------------------------------ rendering
def _manifest_rows(rows: list, totals: bool, dialect: Dialect) -> int:
    """What the department's manifest counts as a file's rows (the contract says only "row count")."""
    if dialect.civil_manifest_rows == "data+totals":
        return len(rows) + totals
    return len(rows) + (dialect.civil_manifest_rows == "data+header")


def _csv_file(world: World, rates: QuirkRates, obj: str, day: dt.date,
              dialect: Dialect = DEFAULT) -> tuple[bytes, int]:
    rows, total = _rows_and_totals(world, rates, obj, day, dialect)
    rng = record_rng(world.seed, SOURCE, "file", obj, day.isoformat())
    bom, totals = rng.random() < rates.csv_bom, rng.random() < rates.csv_totals_row
    bom = {"always": True, "never": False}.get(dialect.civil_bom, bom)
    blank, eol = rng.random() < TRAILING_BLANK_RATE, "\r\n" if rng.random() < CRLF_RATE else "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=eol)
    writer.writerow(HEADERS[obj])
    writer.writerows(rows)
    if totals:
        writer.writerow(total)
    text = buf.getvalue() + (eol if blank else "")
    data = (BOM if bom else b"") + text.encode(dialect.civil_encoding, errors="replace")
    return data, _manifest_rows(rows, totals, dialect)


def _xlsx_file(world: World, rates: QuirkRates, obj: str, day: dt.date,
               dialect: Dialect = DEFAULT) -> tuple[bytes, int]:
    rows, total = _rows_and_totals(world, rates, obj, day, dialect)
    rng = record_rng(world.seed, SOURCE, "file", obj, day.isoformat())
    totals = rng.random() < rates.csv_totals_row
    wb = Workbook()
    ws = wb.active
    ws.title = obj
    ws.append(HEADERS[obj])
    for r in rows:
        ws.append(list(r))
    if totals:
        ws.append(total)
    for column in ("D", "I"):  # 认定日期 (and under some dialects 出生日期) are real date cells
        for cell in ws[column][1:]:
            if isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    # Fixed document properties: openpyxl would stamp "now", and the same seed must give the same bytes.
    stamp = dt.datetime.combine(day, DROP_TIME)
    wb.properties.creator = "民政业务系统"
    wb.properties.created = wb.properties.modified = stamp
    raw = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()  # not save_workbook: it sets now
    return _rezip_fixed_times(raw.getvalue(), stamp), _manifest_rows(rows, totals, dialect)


def _rezip_fixed_times(data: bytes, stamp: dt.datetime) -> bytes:
    """Zip members carry the wall-clock time they were written: pin them to the drop time."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            fixed.compress_type, fixed.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def render_drop(world: World, rates: QuirkRates, day: dt.date,
                dialect: Dialect = DEFAULT) -> tuple[dict[str, bytes], bytes]:
    """The complete, correct drop of ``day``: ({file name: bytes} in manifest order, manifest bytes)."""
    files: dict[str, bytes] = {}
    listed = []
    for obj in OBJECTS:
        data, rows = (_xlsx_file if EXTENSION[obj] == "xlsx" else _csv_file)(world, rates, obj, day, dialect)
        name = file_name(obj, day)
        files[name] = data
        listed.append({"name": name, "rows": rows, "sha256": hashlib.sha256(data).hexdigest()})
    manifest = json.dumps({"drop_date": day.isoformat(), "files": listed}, ensure_ascii=False, indent=2)
    return files, (manifest + "\n").encode("utf-8")


# ------------------------------------------------------------------------------------------ delivery
def drop_anomaly(world: World, rates: QuirkRates, day: dt.date) -> str | None:
    """``'duplicate'``, ``'late'``, ``'truncated'`` or None for the drop of ``day`` (one draw per day; the
    rates are cumulative in that order, so overrides summing past 1 starve the later kinds)."""
    r = record_rng(world.seed, SOURCE, "drop", day.isoformat()).random()
    rates_in_order = (rates.duplicate_drop, rates.late_drop, rates.truncated_drop)
    for kind, rate in zip(ANOMALIES, rates_in_order, strict=True):
        if r < rate:
            return kind
        r -= rate
    return None


def first_drop_day(world: World) -> dt.date:
    return _last_due(world.clock(0)) - dt.timedelta(days=HISTORY_DROPS - 1)


def drop_anomalies(world: World, rates: QuirkRates, first: dt.date | None = None,
                   last: dt.date | None = None) -> dict[dt.date, str]:
    """Anomalous drop days in [first, last] (default: every drop day the simulated county can have)."""
    day, last = first or first_drop_day(world), last or _last_due(world.end)
    out = {}
    while day <= last:
        kind = drop_anomaly(world, rates, day)
        if kind:
            out[day] = kind
        day += dt.timedelta(days=1)
    return out


def _last_due(clock: dt.datetime) -> dt.date:
    day = clock.date()
    return day if dt.datetime.combine(day, DROP_TIME, clock.tzinfo) <= clock else day - dt.timedelta(days=1)


def _drop_days(world: World, since: dt.datetime | None, clock: dt.datetime) -> list[dt.date]:
    last = _last_due(clock)
    if since is None:
        first = last - dt.timedelta(days=HISTORY_DROPS - 1)
    else:
        first = _last_due(since) + dt.timedelta(days=1)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _deliver(out: Path, files: dict[str, bytes], manifest: bytes, day: dt.date, dialect: Dialect = DEFAULT) -> None:
    out = drop_dir(out, day, dialect)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / manifest_name(day)).write_bytes(manifest)  # last: a drop is complete once its manifest is there


def write(world: World, rates: QuirkRates, since: dt.datetime | None,
          clock: dt.datetime, dialect: Dialect = DEFAULT) -> dict[str, dict[str, int]]:
    """Deliver the drops due in ``(since, clock]`` (the last three days when ``since`` is None)."""
    _RATES_USED[:] = [world, rates, dialect]
    out = exchange_dir(SOURCE)
    out.mkdir(parents=True, exist_ok=True)
    if since is None:  # a new county replaces the old one's drops (flat or in day folders)
        for f in out.iterdir():
            if f.is_file() and FILE_RE.match(f.name):
                f.unlink()
            elif f.is_dir() and DAY_DIR_RE.match(f.name):
                for g in f.iterdir():
                    if g.is_file() and FILE_RE.match(g.name):
                        g.unlink()
                if not any(f.iterdir()):
                    f.rmdir()
    counts = {obj: 0 for obj in OBJECTS} | {"drops": 0}
    history_start = first_drop_day(world)
    days = _drop_days(world, since, clock)

    def deliver(day: dt.date, truncate: bool = False) -> None:
        files, manifest = render_drop(world, rates, day, dialect)
        if truncate:
            rng = record_rng(world.seed, SOURCE, "truncate", day.isoformat())
            name = rng.choice(list(files))
            files[name] = files[name][: int(len(files[name]) * rng.uniform(0.3, 0.9))]
        _deliver(out, files, manifest, day, dialect)
        for entry in json.loads(manifest)["files"]:
            counts[entry["name"].split("_")[0]] += entry["rows"]
        counts["drops"] += 1

    for i, day in enumerate(days):
        prev = day - dt.timedelta(days=1)
        # The day before is re-delivered (late, duplicate, or corrected) with this day's write; at generation
        # the first day's predecessor was never delivered, so there is nothing to repeat.
        if (since is not None or i > 0) and prev >= history_start and drop_anomaly(world, rates, prev):
            deliver(prev)
        kind = drop_anomaly(world, rates, day)
        if kind != "late":
            deliver(day, truncate=kind == "truncated")
    return {SOURCE: counts}


def truth_links(world: World, dialect: Dialect | None = None) -> Iterator[tuple[str, str, str, int]]:
    """(source, object, record id, pid) for every register row the simulated county can ever deliver."""
    # The runner hands truth functions only the world and dialect; the IDs as sent depend on the rates of the
    # last write.
    used = _RATES_USED if _RATES_USED and _RATES_USED[0] is world else None
    rates = used[1] if used else QuirkRates()
    dialect = dialect if dialect is not None else (used[2] if used else DEFAULT)
    first, last = first_drop_day(world), _last_due(world.end)
    seen: set[tuple[str, str]] = set()
    for obj, entries in _entries(world, rates, dialect).items():
        for e in entries:
            if e.start > last or (e.gone is not None and e.gone <= first) or (obj, e.record_id) in seen:
                continue
            seen.add((obj, e.record_id))
            yield SOURCE, obj, e.record_id, e.pid


if write not in runner.OTHER_WRITERS:
    runner.OTHER_WRITERS.append(write)
if truth_links not in runner.TRUTH_LINKS:
    runner.TRUTH_LINKS.append(truth_links)
