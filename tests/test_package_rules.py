"""The package rules of docs/architecture.md, checked by walking every import statement.

``collectors`` never imports ``mes`` or ``simulator`` (an edge host runs collectors
alone); ``simulator`` never imports ``mes``. Lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "collectors": {"mes", "simulator"},
    "simulator": {"mes"},
}


def imported_packages(path: Path) -> set[tuple[int, str]]:
    """(line, top-level package) for every import in ``path``, at any depth."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_the_rules_allow(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"no modules under {package}/"
    breaches = [
        f"{path.relative_to(REPO)}:{line}: imports {target}"
        for path in files
        for line, target in sorted(imported_packages(path))
        if target in FORBIDDEN[package]
    ]
    assert breaches == []


def test_the_rule_walker_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from mes.production import kpi\n    import simulator.model\n")
    assert imported_packages(module) == {(2, "mes"), (3, "simulator")}


def test_collectors_has_no_simulator_folder() -> None:
    assert not (REPO / "collectors" / "simulator").exists()
