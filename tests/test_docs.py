"""The documents name only what exists: every file or folder path and every dotted Python name they
put in backticks must resolve in this checkout. A change that adds a module and its docs together
passes; a document that describes a plan as if it were code fails."""

from __future__ import annotations

import importlib
import itertools
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHECKED = sorted(str(p.relative_to(REPO)) for p in [*REPO.glob("*.md"), *REPO.glob("docs/*.md"),
                                                      *REPO.glob("*/**/README.md")] if ".venv" not in p.parts)
PACKAGES = ("collectors", "simulator", "mes", "tests", "bench", "docs", "scripts", "examples")
CODE = re.compile(r"`([^`\n]+)`")
BRACES = re.compile(r"\{([^{}]*)\}")
FILE_NAME = re.compile(r"\w+\.(py|md|sql|yaml|json|html|css|js)")
DOCS = re.compile(r"(?<![\w/.-])(docs/[\w-]+\.md)")


def expand(text: str) -> list[str]:
    """``tests/mes/{production,quality}/`` names two folders."""
    match = BRACES.search(text)
    if not match:
        return [text]
    return list(itertools.chain.from_iterable(
        expand(text[: match.start()] + choice + text[match.end():]) for choice in match.group(1).split(",")
    ))


def paths_named(markdown: str) -> list[str]:
    """Backticked repository paths (``mes/api/app.py``, ``collectors/store/``) and every docs/*.md."""
    found = []
    for code in CODE.findall(markdown):
        token = code.split()[0].rstrip(",.;:") if code.split() else ""
        if "/" in token and token.split("/")[0] in PACKAGES and "…" not in token:
            found += expand(token)
    found += [name for name in DOCS.findall(markdown) if f"`{name}`" not in markdown]
    return found


def exists(path: str) -> bool:
    """The file or folder, or for a migration number (``mes/sql/0080``) a migration starting with it."""
    target = REPO / path.rstrip("/")
    if target.exists():
        return True
    return target.name.isdigit() and any(target.parent.glob(f"{target.name}_*"))


def dotted_names(markdown: str) -> list[str]:
    """Backticked Python names under our packages: ``mes.auth.audit.record``, ``mes.api.create_app``."""
    names = []
    for code in CODE.findall(markdown):
        match = re.match(r"((?:collectors|simulator|mes)(?:\.\w+)+)", code)
        if match and not FILE_NAME.fullmatch(match.group(1)):  # `simulator.py` in a README is a file
            names.append(match.group(1))
    return names


def resolves(dotted: str) -> bool:
    """``dotted`` is a module, or an attribute path inside the longest module prefix of it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return False
        return True
    return False


@pytest.mark.parametrize("document", CHECKED)
def test_every_path_a_document_names_exists(document: str) -> None:
    text = (REPO / document).read_text(encoding="utf-8")
    missing = sorted({path for path in paths_named(text) if not exists(path)})
    assert not missing, f"{document} names paths that do not exist: {missing}"


@pytest.mark.parametrize("document", CHECKED)
def test_every_python_name_a_document_names_exists(document: str) -> None:
    names = dotted_names((REPO / document).read_text(encoding="utf-8"))
    missing = sorted({name for name in names if not resolves(name)})
    assert not missing, f"{document} names Python objects that do not exist: {missing}"


def test_the_checker_sees_a_missing_path_and_a_missing_name() -> None:
    text = "the `mes/unplanned/` rules and `mes.recipes.apply`; `tests/mes/{production,nowhere}/`, see docs/plans.md"
    assert paths_named(text) == ["mes/unplanned/", "tests/mes/production/", "tests/mes/nowhere/", "docs/plans.md"]
    assert not exists("mes/unplanned/") and exists("tests/mes/production/") and not exists("docs/plans.md")
    assert exists("mes/sql/0080") and not exists("mes/sql/0079")
    assert "docs/architecture.md" in CHECKED and "collectors/drivers/modbus/README.md" in CHECKED
    assert not resolves("mes.recipes.apply") and resolves("mes.production.derive.run_once")
