"""pyproject.toml declares what the code imports and nothing else; the README's table says why, row for row;
requirements.lock pins every declared package."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import distribution, packages_distributions

from govhub.settings import REPO_ROOT

# declared, needed at run time, never imported: dbt loads its adapter from profiles.yml
RUNTIME_ONLY = {"dbt-postgres"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    spec = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return {norm(re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0]) for d in spec["project"]["dependencies"]}


def readme_table() -> set[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Direct dependencies", 1)[1].split("\n## ", 1)[0]
    return {norm(re.sub(r"\[.*\]", "", m)) for m in re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)}


def imported_distributions() -> dict[str, set[str]]:
    """distribution -> files of src/, dags/, plugins/ that import it (third-party imports only)."""
    by_module = packages_distributions()
    out: dict[str, set[str]] = {}
    files = [p for d in ("src", "dags", "plugins") for p in (REPO_ROOT / d).rglob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "govhub":
                    continue
                if module.startswith("airflow.providers."):
                    dist = "apache-airflow-providers-" + module.split(".")[2].replace("_", "-")
                elif top == "airflow":
                    dist = "apache-airflow"
                else:  # a namespace shared by several distributions (dbt): the one holding the module
                    candidates = by_module.get(top, [top])
                    prefix = module.replace(".", "/")
                    dist = next((c for c in candidates if len(candidates) > 1 and any(
                        str(f).startswith(prefix) for f in distribution(c).files or [])), candidates[0])
                out.setdefault(norm(dist), set()).add(str(path.relative_to(REPO_ROOT)))
    return out


def test_pyproject_declares_what_the_code_imports_and_nothing_else():
    imports = imported_distributions()
    undeclared = {d: sorted(f)[:3] for d, f in imports.items() if d not in declared()}
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"
    unused = declared() - set(imports) - RUNTIME_ONLY
    assert not unused, f"declared but nothing imports them: {sorted(unused)}"


def test_readme_table_matches_pyproject():
    assert readme_table() == declared()


def test_lock_pins_every_declared_package():
    pins = {norm(line.split("==")[0]) for line in (REPO_ROOT / "requirements.lock").read_text().splitlines()
            if "==" in line}
    assert declared() <= pins, declared() - pins
