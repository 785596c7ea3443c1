"""The plant config of the demo: the simulator's brewery line, read over OPC UA.

Built from the simulator's own description (machines, products, fault codes,
breaks) so the two cannot drift apart. Tags are subscribed: the simulator stamps
values with its simulated clock, so at ``--speed 60`` an hour of production
arrives in a minute with the right times.
"""

from __future__ import annotations

from typing import Any

import yaml

from collectors.config import parse_plant
from collectors.config.models import Plant

NAMESPACE_URI = "http://linebrain.dev/simulator"
LINE_ID = "line1"
FAULT_REASONS = [
    ("jam_infeed", "Jam at infeed", "Mechanical", "ADET", "breakdown", [101]),
    ("jam_outfeed", "Jam at outfeed", "Mechanical", "ADET", "breakdown", [102]),
    ("supply_low", "Supply low", "Logistics", "ADET", "breakdown", [103]),
    ("drive_fault", "Drive fault", "Electrical", "ADET", "breakdown", [201]),
    ("air_low", "Compressed air low", "Utilities", "ADET", "breakdown", [202]),
    ("sensor", "Sensor failure", "Electrical", "ADET", "breakdown", [203]),
    ("mechanical", "Mechanical failure", "Mechanical", "ADET", "breakdown", [204]),
    ("cleaning", "Cleaning", "Setup", "AUST", "setup", []),
    ("no_bottles", "No bottles", "Logistics", "ADET", "breakdown", []),
]


def demo_plant(endpoint: str) -> Plant:
    """The brewery line at ``endpoint`` (the simulator's OPC UA server)."""
    from simulator import STATE_CODES
    from simulator.brewery import BREAKS, CONSTRAINT, MACHINES, PRODUCTS, TIMEZONE, ideal_cycle_time

    tags = []

    def tag(name: str, node: str) -> str:
        tags.append({"name": name, "connection": "brewery", "node_id": f"nsu={NAMESPACE_URI};s={node}",
                     "mode": "subscribe"})  # fmt: skip
        return name

    codes = {state: [code] for state, code in STATE_CODES.items()}
    equipment: list[dict[str, Any]] = []
    for machine in MACHINES:
        key = machine.id.lower()
        node = f"Packaging.Line1.{machine.id}"
        bindings: dict[str, Any] = {
            "state": {"tag": tag(f"{key}_state", f"{node}.State"), "codes": codes,
                      "fault_code_tag": tag(f"{key}_fault", f"{node}.FaultCode")},
        }  # fmt: skip
        # The packer counts cases, not bottles: the line's cycle times would not fit its counts.
        if machine.unit == "bottles":
            bindings["good_count"] = {"tag": tag(f"{key}_good", f"{node}.GoodCount"), "bits": machine.counter_bits}
            bindings["reject_count"] = {"tag": tag(f"{key}_reject", f"{node}.RejectCount"),
                                        "bits": machine.counter_bits}  # fmt: skip
        equipment.append({"id": key, "name": machine.id, "bindings": bindings})
    filler = next(eq for eq in equipment if eq["name"] == CONSTRAINT)["bindings"]
    line_bindings = {
        **filler,
        "energy": tag("energy", "Packaging.Line1.EnergyMeter.Energy"),
        "order_number": tag("order_number", "Packaging.Line1.Filler.OrderNumber"),
    }
    shifts = [
        {"name": name, "start": start, "end": end, "breaks": [{"start": brk.strftime("%H:%M"), "minutes": minutes}]}
        for (name, start, end), (brk, minutes) in zip(
            [("early", "06:00", "14:00"), ("late", "14:00", "22:00"), ("night", "22:00", "06:00")],
            sorted(BREAKS, key=lambda b: (b[0].hour - 6) % 24), strict=True)
    ]  # fmt: skip
    doc = {
        "site": {"name": "Demo Brewery", "timezone": TIMEZONE},
        "areas": [{"id": "packaging", "name": "Packaging", "lines": [{
            "id": LINE_ID, "name": "Bottling line 1", "shift_pattern": "three-shift", "micro_stop_seconds": 30,
            "bindings": line_bindings, "equipment": equipment, "constraint": CONSTRAINT.lower(),
            "downtime_reasons": [
                {"code": code, "name": name, "category": category, "time_element": element, "loss": loss,
                 "fault_codes": faults}
                for code, name, category, element, loss, faults in FAULT_REASONS],
        }]}],
        "connections": [{"id": "brewery", "protocol": "opcua", "endpoint": endpoint,
                         "subscriptions": [{"name": "default", "publishing_interval": 0.1,
                                            "sampling_interval": 0.0}]}],
        "tags": tags,
        "products": [{"id": p.id, "name": p.name, "unit": "bottles",
                      "ideal_cycle_time": {LINE_ID: ideal_cycle_time(p)}} for p in PRODUCTS],
        "shift_patterns": [{"id": "three-shift", "shifts": shifts}],
        "alarms": {"rules": [  # judged on the live readings by the demo's alarm evaluation (docs/alarms.md)
            {"name": "machine_fault", "tags": "*_state", "kind": "digital", "state": STATE_CODES["fault"],
             "priority": "high", "area": "packaging", "message": "Machine fault"},
            {"name": "machine_blocked", "tags": "*_state", "kind": "digital", "state": STATE_CODES["blocked"],
             "on_delay": 30, "priority": "low", "area": "packaging", "message": "Machine blocked"},
        ]},
    }  # fmt: skip
    return parse_plant(yaml.safe_dump(doc, sort_keys=False), source="demo plant")
