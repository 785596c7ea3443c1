"""Hostile config files: alias bombs, recursion, deep nesting, non-UTF-8, NUL. Each is one `file:line: message`
and exit 2, in bounded time and memory — never a traceback."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.collectors.config.test_plant_config import VALID

# The classic "billion laughs": 583 bytes that expand to 9**9 (387 million) values.
_BOMB = "site: {name: x}\n" + "\n".join(
    [f"a0: &a0 [{', '.join(['lol'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["tags: [*a8]"]
) + "\n"

HOSTILE: dict[str, tuple[bytes, int, str]] = {
    "alias bomb": (_BOMB.encode(), 8, "aliases expand to more than"),
    "recursive alias": (b"site: {name: x}\nconnections: &loop\n  - *loop\n", 3, "refers to itself"),
    "deep nesting": (b"site: " + b"[" * 50_000 + b"]" * 50_000 + b"\n", 1, "(yaml):"),
    "not UTF-8": (b"site:\n  name: K\xf6ln\n", 2, "not UTF-8 (byte 0xf6)"),
    "NUL byte": (b"site:\n  name: x\n  timezone: UTC\x00\n", 3, "NUL character"),
    "control character": (b"site:\n  name: \x07bell\n", 2, "(yaml):"),
}


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    limit = 1 << 30  # 1 GiB of address space beyond the interpreter: a bomb must not need more

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit * 2, limit * 2))

    return subprocess.run([sys.executable, "-m", "mes.cli", "check", str(path)], capture_output=True, text=True,
                          check=False, timeout=120, preexec_fn=cap)  # fmt: skip


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_config_is_one_clear_line_and_exit_2(case: str, tmp_path: Path) -> None:
    content, line, message = HOSTILE[case]
    path = tmp_path / "plant.yaml"
    path.write_bytes(content)
    result = _check(path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith(f"{path}:{line}: ") and message in result.stderr, result.stderr[-2000:]


def test_aliases_within_the_limit_still_work() -> None:
    from collectors.config import parse_plant

    assert VALID.count("connection: plc1,") >= 2
    text = VALID.replace("connection: plc1,", "connection: &main plc1,", 1)
    text = text.replace("connection: plc1,", "connection: *main,")
    plant = parse_plant(text)
    assert [tag.connection for tag in plant.tags] == [tag.connection for tag in parse_plant(VALID).tags]
