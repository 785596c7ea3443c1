"""Pydantic models of one plant config file.

The YAML layout mirrors how a plant engineer describes a site: the site and its
time zone, areas with lines and their equipment (ISA-95 levels), the
connections to devices, the tags read over them, what each line's tags mean
(bindings), the products and the shift patterns. Field names are the ones used
in the YAML file; ``docs/config.md`` is the reference.

Only per-field rules live here. Rules that look across the file (a tag naming
an unknown connection, duplicate names, overlapping state codes) are in
:mod:`collectors.config.checks` so their errors can point at the exact field.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from collectors.config.alarms import AlarmSettings
from collectors.config.base import Identifier, Strict
from collectors.config.reports import ReportSettings

# --------------------------------------------------------------------------- site


class Site(Strict):
    name: str
    timezone: str = "UTC"
    enterprise: str = "Enterprise"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from exc
        return value


class Storage(Strict):
    """Where samples go and how long they stay."""

    retention_days: int = Field(default=365, ge=1, le=36500)
    compress_after_days: int = Field(default=7, ge=1, le=3650)
    # Sets the TimescaleDB chunk interval (about 25 M rows a chunk; docs/database.md).
    expected_samples_per_second: float = Field(default=1000, gt=0, le=10_000_000)
    spool_dir: str | None = None
    spool_max_mb: int = Field(default=1024, ge=1)
    batch_max_rows: int = Field(default=20000, ge=1, le=1_000_000)
    batch_max_age_s: float = Field(default=1.0, gt=0, le=60)
    queue_max_samples: int = Field(default=500_000, ge=1000)


class Web(Strict):
    """How ``linebrain serve`` offers the API and pages (the ``web:`` section)."""

    bind: str = Field(default="127.0.0.1", description="address to listen on (0.0.0.0: every interface)")
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+(/\S*)?$",
                                   description="the address users type, e.g. https://mes.plant.example")
    allowed_hosts: list[str] = Field(default_factory=list, description="Host headers accepted besides "
                                     "localhost, the bind address and the public URL's host")
    tls_cert: str | None = Field(default=None, description="PEM certificate: serve HTTPS directly")
    tls_key: str | None = None
    behind_proxy: bool = Field(default=False, description="a reverse proxy terminates TLS in front of us")
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1"],
                                       description="proxies whose X-Forwarded-For/-Proto headers count")
    session_hours: float = Field(default=12, gt=0, le=24 * 90, description="a browser session's lifetime")
    anonymous_read: bool = Field(default=False, description="let anyone who reaches the port read (GET)")
    ready_max_batch_age_s: float | None = Field(default=None, gt=0, description="/readyz fails when the "
                                                "collectors' newest batch is older than this")

    @model_validator(mode="after")
    def _cert_and_key(self) -> Web:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self

    @property
    def https(self) -> bool:
        """Do browsers reach us over HTTPS (directly, or through the proxy)?"""
        return self.tls_cert is not None or (self.public_url or "").startswith("https://")



class MqttJsonTopic(Strict):
    """A plain (not Sparkplug) topic whose JSON messages are samples of one tag (``linebrain ingest``)."""

    topic: str = Field(min_length=1, description="MQTT topic (no wildcards)")
    tag: Identifier
    value: str = Field(default="value", description="JSON field of the value (a bare JSON number works too)")
    time: str | None = Field(default="time", description="JSON field of the time (ISO 8601 or epoch ms)")
    quality: str | None = Field(default=None, description="JSON field of an OPC UA status code")

    @field_validator("topic")
    @classmethod
    def _no_wildcards(cls, value: str) -> str:
        if "+" in value or "#" in value:
            raise ValueError("a JSON topic names one tag: no + or # wildcards")
        return value


class Mqtt(Strict):
    """The MQTT broker of the Sparkplug B namespace (docs/mqtt.md)."""

    url: str = Field(pattern=r"^mqtts?://[^/\s:]+(:\d{1,5})?/?$", description="mqtt://host[:port]")
    group: str | None = Field(default=None, description="Sparkplug group id (default: the site name)")
    primary_host: str | None = Field(default=None, description="host id whose STATE online makes edge nodes rebirth")
    host_id: str = Field(default="linebrain", pattern=r"^[A-Za-z0-9_.\-]+$", description="STATE id of ingest")
    share: Identifier = Field(default="linebrain", description="shared-subscription group of ingest processes")
    keepalive: int = Field(default=30, ge=2, le=3600, description="s; a dead node's NDEATH comes after 1.5x")
    session_expiry: int = Field(default=86_400, ge=0, description="s the broker keeps an ingest's queue")
    username: str | None = None
    password_file: str | None = Field(default=None, description="file holding the broker password (0600)")
    json_topics: list[MqttJsonTopic] = Field(default_factory=list)
    seq_gap_rebirth: bool = Field(default=False, description="ingest asks a node for a rebirth when a seq number "
                                  "is still missing after 2 s (only with one ingest process per share group)")
    publish_spool_mb: int = Field(default=256, ge=1, description="MB the publishing side of collect --publish-also "
                                  "keeps while the broker is away; beyond it samples are not published (logged)")

# --------------------------------------------------------------------------- connections


class ModbusTransport(StrEnum):
    tcp = "tcp"
    rtu = "rtu"
    rtu_over_tcp = "rtu_over_tcp"


class SerialPort(Strict):
    port: str
    baudrate: int = Field(default=9600, ge=300, le=1_000_000)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class ModbusWorkarounds(Strict):
    """Device quirks, named as in Telegraf's modbus input so configs migrate."""

    pause_after_connect: float = Field(default=0.0, ge=0, le=60)
    pause_between_requests: float = Field(default=0.0, ge=0, le=10)
    close_connection_after_gather: bool = False
    read_coils_starting_at_zero: bool = False
    string_register_location: Literal["both", "lower", "upper"] = "both"
    one_request_per_field: bool = False


class PollGroup(Strict):
    name: Identifier
    interval: float = Field(gt=0, le=86400, description="seconds between reads")


class ModbusConnection(Strict):
    id: Identifier
    protocol: Literal["modbus"]
    transport: ModbusTransport = ModbusTransport.tcp
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    serial: SerialPort | None = None
    timeout: float = Field(default=1.0, gt=0, le=60, description="deadline of one request, s")
    max_registers_per_request: int = Field(default=125, ge=1, le=125)
    max_bits_per_request: int = Field(default=2000, ge=1, le=2000)
    max_gap: int = Field(default=10, ge=0, le=124, description="registers/bits read to merge blocks")
    reconnect_after_timeouts: int = Field(default=3, ge=1, le=100)
    busy_retry_delay: float = Field(default=0.2, ge=0, le=10)
    poll_groups: list[PollGroup] = Field(default_factory=lambda: [PollGroup(name="default", interval=1.0)])
    workarounds: ModbusWorkarounds = ModbusWorkarounds()

    @model_validator(mode="after")
    def _transport_fields(self) -> ModbusConnection:
        if self.transport is ModbusTransport.rtu:
            if self.serial is None:
                raise ValueError("transport rtu needs a 'serial' section (port, baudrate, ...)")
        elif self.host is None:
            raise ValueError(f"transport {self.transport.value} needs 'host'")
        return self


class OpcuaSecurityPolicy(StrEnum):
    none = "None"
    basic256sha256 = "Basic256Sha256"
    aes128_sha256_rsaoaep = "Aes128_Sha256_RsaOaep"
    aes256_sha256_rsapss = "Aes256_Sha256_RsaPss"


class OpcuaSecurityMode(StrEnum):
    none = "None"
    sign = "Sign"
    sign_and_encrypt = "SignAndEncrypt"


class OpcuaSecurity(Strict):
    policy: OpcuaSecurityPolicy = OpcuaSecurityPolicy.none
    mode: OpcuaSecurityMode = OpcuaSecurityMode.none
    username: str | None = None
    password: str | None = None
    certificate: str | None = Field(default=None, description="client certificate (PEM/DER) path")
    private_key: str | None = None
    user_certificate: str | None = None
    user_private_key: str | None = None
    trust_dir: str | None = Field(default=None, description="folder of trusted server certificates")
    application_uri: str = "urn:linebrain:client"
    allow_plaintext_password: bool = Field(
        default=False, description="send a user name and password over a channel with security policy None"
    )

    @model_validator(mode="after")
    def _policy_and_mode_agree(self) -> OpcuaSecurity:
        none_policy = self.policy is OpcuaSecurityPolicy.none
        none_mode = self.mode is OpcuaSecurityMode.none
        if none_policy != none_mode:
            raise ValueError("policy None goes with mode None, and a real policy needs Sign or SignAndEncrypt")
        if self.password is not None and self.username is None:
            raise ValueError("password given without username")
        refusal = plaintext_password_refusal(self)
        if refusal:
            raise ValueError(refusal)
        return self


def plaintext_password_refusal(security: OpcuaSecurity) -> str | None:
    """Why a password may not be used here: on policy None anyone on the plant network can read it."""
    if security.password is None or security.policy is not OpcuaSecurityPolicy.none:
        return None
    if security.allow_plaintext_password:
        return None
    return (
        "a password on security policy None can cross the network unprotected: choose a policy and mode "
        "(e.g. policy: Basic256Sha256, mode: SignAndEncrypt), or set allow_plaintext_password: true "
        "if you accept that risk"
    )


class SubscriptionGroup(Strict):
    name: Identifier
    publishing_interval: float = Field(default=1.0, gt=0, le=3600, description="s")
    sampling_interval: float = Field(default=0.5, ge=0, le=3600, description="s")
    queue_size: int = Field(default=10, ge=1, le=10000)
    trigger: Literal["Status", "StatusValue", "StatusValueTimestamp"] = "StatusValue"


class OpcuaConnection(Strict):
    id: Identifier
    protocol: Literal["opcua"]
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    security: OpcuaSecurity = OpcuaSecurity()
    timeout: float = Field(default=4.0, gt=0, le=120)
    session_timeout: float = Field(default=60.0, gt=0, le=3600)
    max_nodes_per_read: int = Field(default=0, ge=0, description="0: use the server's limit")
    max_items_per_subscription: int = Field(default=0, ge=0, description="0: no cap")
    max_concurrent_reads: int = Field(default=4, ge=1, le=64)
    keepalive_factor: float = Field(default=3.0, ge=1.5, le=100)
    poll_groups: list[PollGroup] = Field(default_factory=lambda: [PollGroup(name="default", interval=1.0)])
    subscriptions: list[SubscriptionGroup] = Field(default_factory=lambda: [SubscriptionGroup(name="default")])


class S7Connection(Strict):
    """A Siemens S7 PLC over ISO-on-TCP (python-snap7); see collectors/drivers/s7/README.md."""

    id: Identifier
    protocol: Literal["s7"]
    host: str
    port: int = Field(default=102, ge=1, le=65535)
    rack: int = Field(default=0, ge=0, le=7)
    slot: int = Field(default=1, ge=0, le=31, description="1 for S7-1200/1500, 2 for S7-300")
    timeout: float = Field(default=2.0, gt=0, le=60, description="deadline of one request, s")
    pdu_size: int = Field(default=480, ge=240, le=960, description="PDU size asked for (the PLC may give less)")
    max_gap: int = Field(default=16, ge=0, le=256, description="bytes read to merge nearby tags into one block")
    reconnect_after_timeouts: int = Field(default=3, ge=1, le=100)
    poll_groups: list[PollGroup] = Field(default_factory=lambda: [PollGroup(name="default", interval=1.0)])


Connection = Annotated[ModbusConnection | OpcuaConnection | S7Connection, Field(discriminator="protocol")]


# --------------------------------------------------------------------------- tags


class ModbusTable(StrEnum):
    coil = "coil"
    discrete_input = "discrete_input"
    holding_register = "holding_register"
    input_register = "input_register"

    @property
    def is_bit(self) -> bool:
        return self in (ModbusTable.coil, ModbusTable.discrete_input)


class DataType(StrEnum):
    bool = "bool"
    bit = "bit"
    int8_high = "int8_high"
    int8_low = "int8_low"
    uint8_high = "uint8_high"
    uint8_low = "uint8_low"
    int16 = "int16"
    uint16 = "uint16"
    int32 = "int32"
    uint32 = "uint32"
    int64 = "int64"
    uint64 = "uint64"
    float16 = "float16"
    float32 = "float32"
    float64 = "float64"
    bcd16 = "bcd16"
    bcd32 = "bcd32"
    string = "string"
    string_bytewise = "string_bytewise"
    # OPC UA variables carry their own type; ``auto`` keeps it.
    auto = "auto"


REGISTER_WIDTH: dict[DataType, int] = {
    DataType.bit: 1,
    DataType.int8_high: 1,
    DataType.int8_low: 1,
    DataType.uint8_high: 1,
    DataType.uint8_low: 1,
    DataType.int16: 1,
    DataType.uint16: 1,
    DataType.float16: 1,
    DataType.bcd16: 1,
    DataType.int32: 2,
    DataType.uint32: 2,
    DataType.float32: 2,
    DataType.bcd32: 2,
    DataType.int64: 4,
    DataType.uint64: 4,
    DataType.float64: 4,
}


class ByteOrder(StrEnum):
    """Order of the bytes of a value, A being the most significant byte."""

    ABCD = "ABCD"
    DCBA = "DCBA"
    BADC = "BADC"
    CDAB = "CDAB"


class Tag(Strict):
    """One value read from a device.

    ``address`` is the zero-based protocol address (holding register 40001 is
    address 0). ``unit`` is the engineering unit; the Modbus device id is
    ``unit_id``.
    """

    name: Identifier
    connection: Identifier
    description: str = ""
    # Modbus
    unit_id: int | None = Field(default=None, ge=0, le=255)
    table: ModbusTable | None = None
    address: int | None = None
    data_type: DataType = DataType.auto
    byte_order: ByteOrder = ByteOrder.ABCD
    bit: int | None = Field(default=None, ge=0, le=15)
    length: int | None = Field(default=None, ge=1, le=125, description="registers of a string")
    # OPC UA
    s7_address: str | None = Field(default=None, description="S7: DB10,REAL4, M,X0.1, I,INT2, DB3,STRING10.20")
    node_id: str | None = None
    browse_path: str | None = None
    mode: Literal["poll", "subscribe"] = "poll"
    # Both
    group: Identifier = "default"
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    range: tuple[float, float] | None = Field(default=None, description="engineering range [low, high]")
    deadband: float = Field(default=0.0, ge=0)
    deadband_percent: float = Field(default=0.0, ge=0, le=100)
    heartbeat: float = Field(default=60.0, ge=0, description="store at least every N s; 0 = every read")
    # Setpoints: only tags marked writable can be written, through the audited path (docs/recipes.md).
    writable: bool = False
    write_limits: tuple[float, float] | None = Field(default=None, description="lowest and highest value a "
                                                     "write may send, in engineering units")
    write_roles: list[Identifier] = Field(default_factory=list, description="roles that may write this tag "
                                          "(empty: every role allowed to write setpoints)")
    write_tolerance: float | None = Field(default=None, ge=0, description="largest difference between the "
                                          "value written and the value read back that counts as equal")

    @field_validator("address")
    @classmethod
    def _address_in_range(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 65535:
            raise ValueError(f"register {value} is out of range (zero-based address 0..65535)")
        return value

    @field_validator("range", "write_limits")
    @classmethod
    def _low_below_high(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] >= value[1]:
            raise ValueError(f"low {value[0]} must be below high {value[1]}")
        return value

    @field_validator("node_id")
    @classmethod
    def _node_id_syntax(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(ns=\d+;|nsu=[^;]+;)?[isgb]=.+$", value):
            raise ValueError(f"node id {value!r} is not ns=<n>;s=<name>, nsu=<uri>;s=<name> or i=<n>")
        return value

    @property
    def register_count(self) -> int:
        """Registers (or bits) this tag occupies."""
        if self.data_type in (DataType.string, DataType.string_bytewise):
            return self.length or 1
        return REGISTER_WIDTH.get(self.data_type, 1)


# --------------------------------------------------------------------------- lines


class MachineState(StrEnum):
    """States a line can be in; the ISO 22400 time elements derive from these."""

    running = "running"
    idle = "idle"  # available, no order / starved
    starved = "starved"
    blocked = "blocked"
    fault = "fault"
    changeover = "changeover"  # setup (AUST)
    planned_stop = "planned_stop"
    unknown = "unknown"  # no data, bad quality, lost connection


class StateBinding(Strict):
    tag: Identifier
    codes: dict[MachineState, list[int]] = Field(description="raw PLC codes per state")
    fault_code_tag: Identifier | None = None
    default: MachineState = MachineState.unknown


class CounterBinding(Strict):
    tag: Identifier
    bits: Literal[16, 32, 64] = 32
    # A drop is a wrap only from the top share of the range to the bottom share; any
    # other drop is a reset (the counter restarted from zero).
    reset_threshold: float = Field(default=0.1, gt=0, le=0.5,
                                   description="share of the counter range at each end that makes a drop a wrap")


class EnergyMeter(Strict):
    """A kWh counter that may roll over: ``wraps_at`` is the reading at which it starts again from 0
    (a uint32 register x 0.01 kWh wraps at 42,949,672.96). A drop that is no wrap is a reset."""

    tag: Identifier
    wraps_at: float | None = Field(default=None, gt=0, le=1e15,
                                   description="kWh reading at which the meter rolls over (none: it only resets)")
    reset_threshold: float = Field(default=0.1, gt=0, le=0.5,
                                   description="share of the range at each end that makes a drop a wrap")


class LineBindings(Strict):
    state: StateBinding | None = None
    good_count: CounterBinding | None = None
    reject_count: CounterBinding | None = None
    total_count: CounterBinding | None = None
    rework_count: CounterBinding | None = Field(default=None, description="units sent to rework: RQ")
    speed: Identifier | None = None
    energy: Identifier | None = Field(default=None, description="kWh counter tag")
    energy_meter: EnergyMeter | None = Field(default=None, description="a kWh counter that wraps (instead of energy)")
    order_number: Identifier | None = None


class Equipment(Strict):
    id: Identifier
    name: str = ""
    bindings: LineBindings = LineBindings()


class DowntimeReason(Strict):
    code: Identifier
    name: str
    category: str
    time_element: Literal["ADET", "AUST", "PDT", "ADOT"] = "ADET"
    loss: Literal[
        "breakdown", "setup", "minor_stop", "reduced_speed", "startup_reject", "production_reject", "planned"
    ] = "breakdown"
    fault_codes: list[int] = Field(default_factory=list)


class OrderSettings(Strict):
    """What to do with an order number the PLC shows that LineBrain does not know."""

    auto_create: bool = False
    product: Identifier | None = Field(default=None, description="product of created orders (default: the only one)")
    planned_quantity: float = Field(default=1000, gt=0)


class Line(Strict):
    id: Identifier
    name: str = ""
    shift_pattern: Identifier | None = None
    micro_stop_seconds: float = Field(default=30.0, ge=0, le=3600)
    minor_stop_loss: Literal["performance", "availability"] = "performance"
    max_rate: float | None = Field(
        default=None, gt=0, description="units per minute the line can make at most (default: 2 x fastest PRU rate)"
    )
    state_stale_after: float | None = Field(
        default=None, gt=0, le=86400, description="seconds a state reading is held (default: 2 x heartbeat + poll)"
    )
    orders: OrderSettings | None = None
    recipe_download: Literal["manual", "order_start"] = Field(
        default="manual", description="order_start: download the product's approved recipes when an order starts"
    )
    bindings: LineBindings = LineBindings()
    equipment: list[Equipment] = Field(default_factory=list)
    constraint: Identifier | None = Field(
        default=None, description="equipment id of the line's constraint (bottleneck): attributes its stops to "
                                  "the machine that caused them (root cause)")
    flow: list[Identifier] = Field(
        default_factory=list, description="machines from upstream to downstream, buffers between neighbours "
                                          "(default: the equipment in the order listed)")
    downtime_reasons: list[DowntimeReason] = Field(default_factory=list)


class Area(Strict):
    id: Identifier
    name: str = ""
    lines: list[Line] = Field(default_factory=list)


# --------------------------------------------------------------------------- products, shifts


class Product(Strict):
    id: Identifier
    name: str = ""
    unit: str = "pcs"
    ideal_cycle_time: dict[Identifier, float] = Field(
        default_factory=dict, description="seconds per unit, per line id"
    )

    @field_validator("ideal_cycle_time")
    @classmethod
    def _positive_cycle(cls, value: dict[str, float]) -> dict[str, float]:
        for line, seconds in value.items():
            if seconds <= 0:
                raise ValueError(f"ideal cycle time for line {line} must be positive, got {seconds}")
        return value


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAYS: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Break(Strict):
    start: time
    minutes: float = Field(gt=0, le=720)


class ShiftDefinition(Strict):
    name: Identifier
    start: time
    end: time = Field(description="may be earlier than start: the shift ends the next day")
    breaks: list[Break] = Field(default_factory=list)


class ShiftPattern(Strict):
    id: Identifier
    days: list[Weekday] = Field(default_factory=lambda: list(ALL_DAYS))
    shifts: list[ShiftDefinition]


# --------------------------------------------------------------------------- plant

class Plant(Strict):
    site: Site
    storage: Storage = Storage()
    web: Web = Web()
    areas: list[Area] = Field(default_factory=list)
    connections: list[Connection] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)
    products: list[Product] = Field(default_factory=list)
    shift_patterns: list[ShiftPattern] = Field(default_factory=list)
    alarms: AlarmSettings = AlarmSettings()
    reports: ReportSettings = ReportSettings()
    mqtt: Mqtt | None = None

    def lines(self) -> list[Line]:
        return [line for area in self.areas for line in area.lines]

    def connection(self, connection_id: str) -> ModbusConnection | OpcuaConnection | S7Connection:
        for conn in self.connections:
            if conn.id == connection_id:
                return conn
        raise KeyError(connection_id)

    def tags_of(self, connection_id: str) -> list[Tag]:
        return [tag for tag in self.tags if tag.connection == connection_id]
