"""Loading a big plant config: time and peak memory grow linearly with the file.

Generates plant configs of the given sizes (Modbus connections of 1,000 float32
tags each, every tag with a unit and a description, about 190 bytes a tag),
then, each in a fresh process, loads it with ``load_plant`` (parse with line
numbers, validate, cross-check) and, as the baseline, with a bare libyaml
``yaml.load(CSafeLoader)`` of the same file (no line numbers, no validation).
Prints seconds, MB/s and peak RSS of both and their ratio.

Usage: .venv/bin/python bench/config_load.py [--mb 5 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_TAG = ("  - name: line{line}.tag{i}\n    connection: plc{line}\n    table: holding_register\n"
        "    address: {address}\n    data_type: float32\n    unit: bar\n"
        "    description: pressure sensor number {i} of the plant\n")  # fmt: skip


def write_config(path: Path, megabytes: float) -> int:
    """A valid plant config of about ``megabytes`` MB; returns its number of tags."""
    tags = int(megabytes * 1_000_000 / 150)
    lines = tags // 1000 + 1
    with path.open("w") as out:
        out.write("site:\n  name: Big plant\nconnections:\n")
        for line in range(lines):
            out.write(f"  - id: plc{line}\n    protocol: modbus\n    host: 10.{line // 250}.{line % 250}.1\n")
        out.write("tags:\n")
        for i in range(tags):
            out.write(_TAG.format(line=i // 1000, i=i, address=(i % 1000) * 2))
    return tags


_LOAD = {
    "load_plant": "from collectors.config import load_plant; plant = load_plant(sys.argv[1]); n = len(plant.tags)",
    "libyaml baseline": "import yaml; data = yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader); "
                        "n = len(data['tags'])",
}


def measure(kind: str, path: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of loading ``path`` in a fresh process."""
    code = ("import sys, time, resource; t = time.perf_counter(); " + _LOAD[kind] +
            "; print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout.split()  # fmt: skip
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, nargs="+", default=[5, 50])
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'file':>9} {'tags':>8} {'load_plant s':>12} {'MB/s':>6} {'peak MB':>8} {'libyaml s':>10} "
          f"{'peak MB':>8} {'time ratio':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for megabytes in args.mb:
            path = Path(folder) / f"plant-{megabytes:g}mb.yaml"
            tags = write_config(path, megabytes)
            size = path.stat().st_size / 1e6
            seconds, peak = measure("load_plant", path)
            base_seconds, base_peak = measure("libyaml baseline", path)
            print(f"{size:>7.1f}MB {tags:>8} {seconds:>12.1f} {size / seconds:>6.2f} {peak:>8.0f} "
                  f"{base_seconds:>10.1f} {base_peak:>8.0f} {seconds / base_seconds:>10.2f}", flush=True)
            path.unlink()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
