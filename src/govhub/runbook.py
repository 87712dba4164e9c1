"""What operators read in the Airflow UI about each DAG, and the schedule each extract DAG runs on.

Both come from the source registry (``sources.yml``), the one place that names a feed's department, contact,
contract section and schedule: the DAG files only call these functions.
"""

from __future__ import annotations

import os

from govhub.extract.registry import Feed, load_registry
from govhub.freshness import GRACE

# `hub serve --extract-every N` sets it: every extract runs every N minutes (staggered per feed) instead of its
# registry schedule, so that a live demo sees builds within minutes. Unset, the contract's schedules apply.
EXTRACT_EVERY_ENV = "HUB_EXTRACT_EVERY_MINUTES"


def extract_schedule(feed: Feed) -> str:
    """The cron schedule of ``feed``'s extract DAG: the registry's, or the compressed demo schedule."""
    every = os.environ.get(EXTRACT_EVERY_ENV, "").strip()
    if not every:
        return feed.schedule
    minutes = int(every)
    if not 1 <= minutes <= 59:
        raise ValueError(f"{EXTRACT_EVERY_ENV}={every}: give whole minutes between 1 and 59 (unset it for the "
                         "registry's schedules)")
    offset = list(load_registry()).index(feed.name) % minutes  # the feeds do not all start in the same minute
    return f"{offset}-59/{minutes} * * * *"


def _contact(feed: Feed) -> str:
    parts = [feed.contact.get("name"), feed.contact.get("email")]
    return " · ".join(p for p in parts if p) or "(no contact in sources.yml)"


def extract_doc_md(feed: Feed) -> str:
    """The extract DAG's documentation: who sends the data, under which contract, and what to do when it fails."""
    objects = ", ".join(f"`{o}`" for o in feed.objects)
    contract = feed.options.get("contract", "shared/contracts/sources.md")
    schedule = extract_schedule(feed)
    compressed = "" if schedule == feed.schedule else f" (compressed for a demo by `{EXTRACT_EVERY_ENV}`: `{schedule}`)"
    rerun = (f"`hub backfill {feed.name} --from A --to B` re-reads an interval" if feed.kind in ("sql", "http")
             else "a files feed has no interval: delete the drop's row from `ops.accepted_drop` and run again")
    return f"""\
### {feed.department} — feed `{feed.name}`

| | |
|---|---|
| department | {feed.department} |
| contact | {_contact(feed)} |
| contract | {contract} |
| kind | {feed.kind} (Airflow connection `{feed.connection}`) |
| objects | {objects} |
| schedule | `{feed.schedule}` Asia/Shanghai{compressed} |

Each task reads one object (a files feed: one whole drop) into `raw` and publishes the Asset `raw_{feed.name}`,
which triggers `warehouse_build`. Its log says, in words, how many records were received, loaded and quarantined.

**When it goes wrong**

- **Late** (the scorecard's timeliness, an alert "stale feeds"): no delivery since the run due
  {int(GRACE.total_seconds() // 60)} minutes after the schedule. Check this DAG's last runs, then ask the contact
  whether the department's export ran. The build publishes on the last good data meanwhile.
- **Drifted** (the task failed naming a column, not retried): the department changed its schema. The other
  objects and feeds still load; `hub status` lists the drift. Ask the contact whether the change is
  intended; if it is, change the object's `columns` in `src/govhub/sources.yml` (and its dbt staging model).
- **Held** (`warehouse_build` → `gate_feeds` log: "held"): the feed's new batches failed a blocking check and are
  kept out of the warehouse; yesterday's data stays published. Look at the scorecard (UI → govhub → Data
  quality scorecard), confirm with the contact, then `hub release {feed.name} --note WHY` or let the department
  re-send.
- **Refused** (a delivery refused: bad manifest, truncated or malformed file, refused credentials): nothing of it
  was loaded; `hub status` says why. Ask the department to re-deliver; {rerun}.
- **Unreachable** (timeouts, 5xx, 429): retried by Airflow; if the last retry fails, an alert is sent.
"""


def warehouse_doc_md() -> str:
    feeds = load_registry().values()
    rows = "\n".join(f"| `{f.name}` | {f.department} | {_contact(f)} | `{extract_schedule(f)}` |" for f in feeds)
    return f"""\
### Warehouse build: per-feed checks → dbt → quality gate → publish

Runs whenever an extract publishes its `raw_<feed>` Asset, and daily at `{os.environ.get("HUB_BUILD_FALLBACK_CRON", "0 3 * * *").strip() or "(no fallback)"}`
Asia/Shanghai as a fallback (`HUB_BUILD_FALLBACK_CRON`).
One build at a time (the build lock); a failing feed's new batches are held, the others published.

| feed | department | contact | extract schedule |
|---|---|---|---|
{rows}

**When it goes wrong**: `check_freshness` names late feeds (the build goes on); `gate_feeds` names held feeds and
their batches (`hub release FEED`); a failed `gate_and_publish` means the publication gate blocked: the last
version stays published, the scorecard (UI → govhub → Data quality scorecard) and `hub status` say why.
"""
