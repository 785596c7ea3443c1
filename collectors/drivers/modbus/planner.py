"""Modbus request planner: the fewest requests that read a set of tags.

Tags are grouped by (unit id, table, poll group), sorted by address, and merged
into one request while the gap between them is at most ``max_gap`` and the
request stays within the device's cap (125 registers / 2000 bits, or lower).
A tag wider than what remains starts a new request. ``one_request_per_field``
fences every tag into its own request. Sorting makes this O(n log n).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from collectors.config.models import ModbusConnection, ModbusTable, Tag

DEFAULT_UNIT_ID = 1


@dataclass
class ReadRequest:
    """One Modbus read: ``count`` registers (or bits) from ``address`` of ``table``."""

    unit_id: int
    table: ModbusTable
    group: str
    address: int
    count: int
    tags: list[Tag] = field(default_factory=list)

    @property
    def end(self) -> int:
        """One past the last address read."""
        return self.address + self.count

    @property
    def function_code(self) -> int:
        return {
            ModbusTable.coil: 1,
            ModbusTable.discrete_input: 2,
            ModbusTable.holding_register: 3,
            ModbusTable.input_register: 4,
        }[self.table]


def unit_of(tag: Tag) -> int:
    return DEFAULT_UNIT_ID if tag.unit_id is None else tag.unit_id


def plan_requests(connection: ModbusConnection, tags: list[Tag]) -> list[ReadRequest]:
    """Requests that cover ``tags``, in (group, unit, table, address) order."""
    buckets: dict[tuple[str, int, ModbusTable], list[Tag]] = defaultdict(list)
    for tag in tags:
        if tag.table is None or tag.address is None:
            continue
        buckets[(tag.group, unit_of(tag), tag.table)].append(tag)
    requests: list[ReadRequest] = []
    for (group, unit_id, table), bucket in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2].value)):
        requests.extend(_merge(connection, group, unit_id, table, bucket))
    return requests


def _merge(
    connection: ModbusConnection, group: str, unit_id: int, table: ModbusTable, tags: list[Tag]
) -> list[ReadRequest]:
    cap = connection.max_bits_per_request if table.is_bit else connection.max_registers_per_request
    fenced = connection.workarounds.one_request_per_field
    tags = sorted(tags, key=lambda t: (t.address, t.register_count))
    requests: list[ReadRequest] = []
    current: ReadRequest | None = None
    for tag in tags:
        start = tag.address or 0
        end = start + tag.register_count
        if current is not None and not fenced:
            new_end = max(current.end, end)
            if start - current.end <= connection.max_gap and new_end - current.address <= cap:
                current.count = new_end - current.address
                current.tags.append(tag)
                continue
        current = ReadRequest(unit_id, table, group, start, end - start, [tag])
        requests.append(current)
    if table.is_bit and connection.workarounds.read_coils_starting_at_zero:
        if fenced:
            for request in requests:
                if request.end <= cap:
                    request.count, request.address = request.end, 0
        else:
            requests = _from_zero(requests, cap)
    return requests


def _from_zero(requests: list[ReadRequest], cap: int) -> list[ReadRequest]:
    """Some devices answer bit reads only when they start at address 0 (Telegraf's
    ``read_coils_starting_at_zero``): every request that fits below the cap is folded
    into one read from 0; requests beyond the cap stay as planned."""
    low = [r for r in requests if r.end <= cap]
    if not low:
        return requests
    merged = ReadRequest(low[0].unit_id, low[0].table, low[0].group, 0, max(r.end for r in low))
    merged.tags = sorted((t for r in low for t in r.tags), key=lambda t: t.address or 0)
    return [merged, *(r for r in requests if r.end > cap)]
