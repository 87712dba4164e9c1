"""The source registry (``sources.yml``): one place that describes every feed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REGISTRY_PATH = Path(os.environ.get("HUB_REGISTRY", Path(__file__).resolve().parents[1] / "sources.yml"))
TYPE_FAMILIES = {"text", "integer", "float", "boolean", "date", "timestamptz", "jsonb"}


@dataclass(frozen=True)
class FeedObject:
    name: str
    primary_key: list[str]
    columns: dict[str, str]
    incremental: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def raw_table(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Feed:
    name: str
    kind: str
    department: str
    contact: dict[str, str]
    connection: str
    schedule: str
    objects: dict[str, FeedObject]
    options: dict[str, Any] = field(default_factory=dict)

    def raw_table(self, obj: FeedObject) -> str:
        return f"{self.name}__{obj.raw_table}"


class RegistryError(ValueError):
    pass


def _parse(raw: dict[str, Any]) -> dict[str, Feed]:
    feeds = {}
    for name, spec in raw["feeds"].items():
        objects = {}
        for oname, ospec in spec["objects"].items():
            cols = {str(k): str(v) for k, v in ospec["columns"].items()}
            bad = {c: t for c, t in cols.items() if t not in TYPE_FAMILIES}
            if bad:
                raise RegistryError(f"feed {name}, object {oname}: unknown column type(s) {bad}")
            missing_pk = [c for c in ospec.get("primary_key", []) if c not in cols]
            if missing_pk:
                raise RegistryError(f"feed {name}, object {oname}: primary key column(s) {missing_pk} not in columns")
            extra = {k: v for k, v in ospec.items() if k not in ("primary_key", "columns", "incremental")}
            objects[oname] = FeedObject(oname, list(ospec.get("primary_key", [])), cols,
                                        dict(ospec.get("incremental") or {}), extra)
        known = ("kind", "department", "contact", "connection", "schedule", "objects")
        feeds[name] = Feed(name, spec["kind"], spec["department"], dict(spec.get("contact") or {}),
                           spec.get("connection", name), spec.get("schedule", "@daily"), objects,
                           {k: v for k, v in spec.items() if k not in known})
        if spec["kind"] not in ("sql", "files", "http"):
            raise RegistryError(f"feed {name}: unknown kind {spec['kind']!r}")
    return feeds


@cache
def load_registry(path: Path = REGISTRY_PATH) -> dict[str, Feed]:
    with open(path, encoding="utf-8") as fh:
        return _parse(yaml.safe_load(fh))


def feed(name: str) -> Feed:
    feeds = load_registry()
    if name not in feeds:
        raise RegistryError(f"unknown feed {name!r}; the registry has {sorted(feeds)}")
    return feeds[name]
