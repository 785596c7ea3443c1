"""What a plant config will read, per connection, before anything runs (``linebrain plan``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.config.models import ModbusConnection, OpcuaConnection, Plant, S7Connection
from collectors.drivers.modbus.planner import ReadRequest, plan_requests
from collectors.drivers.s7.planner import S7Request, addresses
from collectors.drivers.s7.planner import plan_requests as plan_s7


@dataclass
class ConnectionPlan:
    connection: ModbusConnection | OpcuaConnection | S7Connection
    tag_count: int
    modbus_requests: list[ReadRequest] = field(default_factory=list)
    opcua_polled: dict[str, list[str]] = field(default_factory=dict)  # group -> node ids
    opcua_subscribed: dict[str, list[str]] = field(default_factory=dict)
    s7_requests: dict[str, list[S7Request]] = field(default_factory=dict)  # group -> requests at its PDU size


def plant_plan(plant: Plant) -> list[ConnectionPlan]:
    plans: list[ConnectionPlan] = []
    for connection in plant.connections:
        tags = plant.tags_of(connection.id)
        plan = ConnectionPlan(connection=connection, tag_count=len(tags))
        if isinstance(connection, ModbusConnection):
            plan.modbus_requests = plan_requests(connection, tags)
        elif isinstance(connection, S7Connection):
            for group in connection.poll_groups:
                mine = addresses([tag for tag in tags if tag.group == group.name])
                plan.s7_requests[group.name] = plan_s7(mine, connection.pdu_size, connection.max_gap)
        else:
            for tag in tags:
                target = plan.opcua_subscribed if tag.mode == "subscribe" else plan.opcua_polled
                target.setdefault(tag.group, []).append(tag.node_id or f"path:{tag.browse_path}")
        plans.append(plan)
    return plans
