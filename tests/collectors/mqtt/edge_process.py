"""An edge node in its own process (for SIGKILL tests): publishes ``count`` readings per tag, then idles.

python -m tests.collectors.mqtt.edge_process plant.yaml spool_dir count
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from collectors.config import load_plant
from collectors.mqtt import SparkplugEdge
from tests.collectors.store.helpers import ramp


def main() -> None:
    config, spool, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    plant = load_plant(config)
    edge = SparkplugEdge.for_node(plant, "edge-proc", plant.tags, spool)
    edge.start()
    numeric = sum(1 for tag in plant.tags if tag.name.startswith("t"))
    edge.write(ramp(numeric, count))
    while edge.pending_batches():
        time.sleep(0.05)
    print("published", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
