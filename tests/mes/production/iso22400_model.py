"""An independent model of the ISO 22400-2 time model and the counting rules, for property tests.

Written from the rules as plant people state them (../shared/DOMAIN.md, docs/mes.md, issues
13 and 27), not from the SQL: it works from the scenario's ground truth (what the line did,
what the PLC counter really counted, when each shift and break was) and walks time piece by
piece in Python. Nothing here imports LineBrain code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

RUNNING, IDLE, FAULT, JAM, CHANGEOVER = 1, 2, 3, 4, 5
STATE_OF = {RUNNING: "running", IDLE: "idle", FAULT: "fault", JAM: "fault", CHANGEOVER: "changeover"}


@dataclass
class Line:
    """What the model needs to know about the line (its configuration, in plain values)."""

    timezone: str
    shifts: list[tuple[str, str, str]]  # (name, start "HH:MM", end "HH:MM"); end <= start: next day
    breaks: dict[str, list[tuple[str, int]]]  # shift name -> [(start "HH:MM", minutes)]
    stale_seconds: float  # a state holds this long after its last sample
    micro_stop_seconds: float
    minor_stop_loss: str
    default_pru: float  # PRU when no order runs: the fastest product
    jam_is_adet: bool = True  # fault code JAM maps to a reason with element ADET


@dataclass
class Truth:
    """The scenario: state samples written, order run, counts the PLC really made."""

    state_samples: list[tuple[datetime, int]]
    order: tuple[datetime, datetime, float] | None  # start, end, PRU of its product
    deltas: list[tuple[datetime, float]]  # units the derivation must count, at the reading that carries them
    doubtful_readings: list[datetime]  # jumps and glitches: data-quality events
    adjustments: list[tuple[datetime, str, float]] = field(default_factory=list)  # accepted ones


def _local(day: date, clock: str, tz: ZoneInfo) -> datetime:
    hour, minute = (int(x) for x in clock.split(":"))
    return datetime.combine(day, time(hour, minute), tz).astimezone(ZoneInfo("UTC"))


def shift_instances(line: Line, first: date, last: date) -> list[tuple[str, datetime, datetime]]:
    """Shifts of the local days first..last, from wall clock times (a night across DST is 7 or 9 h)."""
    tz = ZoneInfo(line.timezone)
    out = []
    day = first
    while day <= last:
        for name, start, end in line.shifts:
            lo = _local(day, start, tz)
            end_day = day + timedelta(days=1) if end <= start else day
            out.append((name, lo, _local(end_day, end, tz)))
        day += timedelta(days=1)
    return out


def break_periods(line: Line, shifts: list[tuple[str, datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    tz = ZoneInfo(line.timezone)
    out = []
    for name, lo, hi in shifts:
        for clock, minutes in line.breaks.get(name, []):
            day = lo.astimezone(tz).date()
            start = _local(day, clock, tz)
            if start < lo:
                start = _local(day + timedelta(days=1), clock, tz)
            if lo <= start < hi:
                out.append((start, min(start + timedelta(minutes=minutes), hi)))
    return out


@dataclass
class Piece:
    start: datetime
    end: datetime
    element: str | None
    shift: str | None


@dataclass
class Result:
    """Time elements (seconds) and quantities of a window, per the model."""

    seconds: dict[str, float]
    pq: float = 0.0
    gq: float = 0.0
    rq: float = 0.0
    pq_no_data: float = 0.0
    ideal: float = 0.0
    doubtful: int = 0

    @property
    def pot(self) -> float:
        return sum(self.seconds.values())

    @property
    def pbt(self) -> float:
        return self.pot - self.seconds["PDT"] - self.seconds["NODATA"]

    def oee(self) -> float | None:
        """Availability x effectiveness x quality ratio; 0 without production time or units."""
        if self.pbt <= 0:
            return None
        apt = self.seconds["APT"]
        if apt <= 0 or self.pq <= 0:
            return 0.0
        return (apt / self.pbt) * (self.ideal / apt) * (self.gq / self.pq)

    def reasons(self) -> list[str]:
        apt = self.seconds["APT"]
        out = []
        if apt > 0 and self.ideal > apt * (1 + 1e-9):
            out.append("effectiveness_above_1")
        if self.gq > self.pq * (1 + 1e-9):
            out.append("quality_above_1")
        if min(self.pq, self.gq, self.rq, self.pq - self.gq - self.rq) < 0:
            out.append("negative_quantity")
        if self.pbt > 0 and apt == 0 and self.pq > 0:
            out.append("units_without_apt")
        if self.pq_no_data > 0:
            out.append("units_in_no_data")
        if self.doubtful:
            out.append("data_quality_events")
        return out


def state_validity(line: Line, samples: list[tuple[datetime, int]]) -> list[tuple[datetime, datetime, int]]:
    """Each sample's state holds until the next sample, but not longer than the stale time."""
    out = []
    for i, (t, code) in enumerate(samples):
        end = t + timedelta(seconds=line.stale_seconds)
        if i + 1 < len(samples):
            end = min(end, samples[i + 1][0])
        out.append((t, end, code))
    return out


def stops(validity: list[tuple[datetime, datetime, int]]) -> list[tuple[datetime, datetime, int]]:
    """Maximal stretches of known, not-running state (start, end, code at the start)."""
    out: list[tuple[datetime, datetime, int]] = []
    for lo, hi, code in validity:
        if code == RUNNING:
            continue
        if out and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi, out[-1][2])
        else:
            out.append((lo, hi, code))
    return out


def timeline(line: Line, truth: Truth, start: datetime, end: datetime) -> list[Piece]:
    """The window cut at every boundary, each piece given its ISO 22400 element (None: not in POT)."""
    first = (start - timedelta(days=1)).astimezone(ZoneInfo(line.timezone)).date()
    shifts = shift_instances(line, first, end.astimezone(ZoneInfo(line.timezone)).date())
    breaks = break_periods(line, shifts)
    validity = state_validity(line, truth.state_samples)
    stop_list = stops(validity)
    cuts = {start, end}
    for _, lo, hi in shifts:
        cuts |= {lo, hi}
    for lo, hi in breaks:
        cuts |= {lo, hi}
    for lo, hi, _ in validity:
        cuts |= {lo, hi}
    if truth.order:
        cuts |= {truth.order[0], truth.order[1]}
    points = sorted(t for t in cuts if start <= t <= end)
    pieces = []
    for lo, hi in pairwise(points):
        mid = lo + (hi - lo) / 2
        shift = next((name for name, a, b in shifts if a <= mid < b), None)
        pieces.append(Piece(lo, hi, _element(line, truth, mid, shift, breaks, validity, stop_list), shift))
    return pieces


def _element(line: Line, truth: Truth, t: datetime, shift: str | None, breaks, validity, stop_list) -> str | None:
    if shift is None:
        return None
    if any(a <= t < b for a, b in breaks):
        return "PDT"
    code = next((c for a, b, c in validity if a <= t < b), None)
    if code == RUNNING:
        return "APT"
    if code is None:
        return "NODATA"
    in_order = truth.order is not None and truth.order[0] <= t < truth.order[1]
    stop = next((s for s in stop_list if s[0] <= t < s[1]), None)
    assert stop is not None
    minor = (stop[1] - stop[0]).total_seconds() < line.micro_stop_seconds and STATE_OF[stop[2]] != "changeover"
    if minor and in_order and line.minor_stop_loss == "performance":
        return "APT"
    if stop[2] == JAM and line.jam_is_adet:
        return "ADET"
    if STATE_OF[stop[2]] == "changeover":
        return "AUST"
    return "ADET" if in_order else "ADOT"


def kpis(line: Line, truth: Truth, start: datetime, end: datetime) -> Result:
    """The window's elements and quantities: a count at t belongs to the piece (a, b] holding t."""
    pieces = timeline(line, truth, start, end)
    result = Result(seconds={k: 0.0 for k in ("PDT", "NODATA", "APT", "AUST", "ADET", "ADOT")})
    for piece in pieces:
        if piece.element is not None:
            result.seconds[piece.element] += (piece.end - piece.start).total_seconds()
    counted = [(t, q, 0.0) for t, q in truth.deltas]
    counted += [(t, q if kind == "good" else 0.0, q if kind == "rework" else 0.0)
                for t, kind, q in truth.adjustments]  # fmt: skip
    for t, good, rework in counted:
        if not start < t <= end:
            continue
        piece = next(p for p in pieces if p.start < t <= p.end)
        if piece.element == "NODATA":
            result.pq_no_data += good
        if piece.element in (None, "PDT", "NODATA"):
            continue
        in_order = truth.order is not None and truth.order[0] < t <= truth.order[1]
        pru = truth.order[2] if in_order and truth.order else line.default_pru
        result.pq += good
        result.gq += good - rework
        result.rq += rework
        result.ideal += good * pru
    result.doubtful = sum(1 for t in truth.doubtful_readings if start < t <= end)
    return result


def shift_window(line: Line, at: datetime) -> tuple[datetime, datetime] | None:
    """The shift whose (start, end] holds ``at``: an adjustment's window."""
    tz = ZoneInfo(line.timezone)
    day = at.astimezone(tz).date()
    for _, lo, hi in shift_instances(line, day - timedelta(days=1), day):
        if lo < at <= hi:
            return lo, hi
    return None
