"""A small garment plant: cutting → sewing operations at stations → finishing → packing.

An order is cut into bundles (20 pieces by default); each bundle goes through every operation in
turn, first come first served at each station. One operator works each station at their own speed
(a standard operator is 1.0: a piece takes its SAM), pieces are scrapped or reworked at random, one
station breaks down for a while, and the operator scans the bundle's ticket when it leaves — now
and then twice. Everything is a discrete-event simulation on a seeded generator, so a whole order
(hours of plant time) runs in milliseconds, and the ground truth answers what was where at any
moment. It imports nothing of ``mes``: the tests feed its scans to the MES and compare.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SEWING = ("join shoulders", "attach collar", "set sleeves", "close sides", "attach cuffs", "sew placket",
          "attach pocket", "topstitch collar", "hem bottom", "make buttonholes", "sew buttons", "bar tack",
          "attach label", "sew yoke", "close sleeves", "finish seams")  # fmt: skip


@dataclass(frozen=True)
class GarmentOperation:
    seq: int
    name: str
    station: str
    sam_minutes: float


@dataclass(frozen=True)
class Operator:
    code: str
    station: str
    speed: float  # 1.0: a piece takes its SAM; 1.2: 20% faster


@dataclass(frozen=True)
class Breakdown:
    station: str
    start: float  # simulated seconds after the order's start
    end: float


@dataclass(frozen=True)
class BundleTicket:
    code: str
    quantity: int


@dataclass(frozen=True)
class Scan:
    """An operator scanned a bundle leaving an operation (``duplicate``: the same scan again)."""

    elapsed: float
    time: datetime
    bundle: str
    seq: int
    station: str
    operator: str
    good: int
    scrap: int
    rework: int
    duplicate: bool = False


@dataclass(frozen=True)
class Passage:
    """Truth: a bundle at an operation — arrived (its pieces in), left (good on, scrap out)."""

    bundle: str
    seq: int
    arrived: float
    left: float
    pieces_in: int
    good: int
    scrap: int


def garment_operations(sewing: int = 12) -> list[GarmentOperation]:
    """Cutting, ``sewing`` sewing operations, finishing and packing, numbered 10, 20, ..."""
    if not 1 <= sewing <= len(SEWING):
        raise ValueError(f"sewing operations: 1 to {len(SEWING)}")
    names = ["cutting", *SEWING[:sewing], "finishing", "packing"]
    sams = [0.35] + [0.6 + 0.15 * (i % 4) for i in range(sewing)] + [0.5, 0.3]
    return [GarmentOperation((i + 1) * 10, name, f"st{i + 1:02d}", round(sam, 2))
            for i, (name, sam) in enumerate(zip(names, sams, strict=True))]  # fmt: skip


@dataclass
class GarmentPlant:
    """One order through the plant. ``run()`` simulates it; the truth methods read the result."""

    quantity: int = 1200
    bundle_size: int = 20
    operations: list[GarmentOperation] = field(default_factory=garment_operations)
    seed: int = 1
    start: datetime = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    scrap_rate: float = 0.005
    rework_rate: float = 0.03
    duplicate_rate: float = 0.05
    breakdown_station: int = 4  # the fourth operation's station breaks down ...
    breakdown_after_s: float = 1800.0  # ... half an hour into the order ...
    breakdown_s: float = 2400.0  # ... for 40 minutes
    operators: list[Operator] = field(default_factory=list)
    bundles: list[BundleTicket] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    scans: list[Scan] = field(default_factory=list)
    breakdowns: list[Breakdown] = field(default_factory=list)

    def run(self, order_number: str = "G-1") -> list[Scan]:
        """Simulate the order; the scans (duplicates included) in time order."""
        rng = random.Random(self.seed)
        self.operators = [Operator(f"op{i + 1:02d}", op.station, round(rng.uniform(0.75, 1.3), 2))
                          for i, op in enumerate(self.operations)]  # fmt: skip
        down = self.operations[min(self.breakdown_station, len(self.operations)) - 1].station
        self.breakdowns = [Breakdown(down, self.breakdown_after_s, self.breakdown_after_s + self.breakdown_s)]
        full, rest = divmod(self.quantity, self.bundle_size)
        sizes = [self.bundle_size] * full + ([rest] if rest else [])
        self.bundles = [BundleTicket(f"{order_number}-{n:03d}", size) for n, size in enumerate(sizes, start=1)]
        arriving = [(0.0, b.code, b.quantity) for b in self.bundles]  # every bundle is cut at the start
        self.passages, self.scans = [], []
        for op, operator in zip(self.operations, self.operators, strict=True):
            arriving = self._station(rng, op, operator, arriving)
        self.scans.sort(key=lambda s: (s.elapsed, s.duplicate))
        return self.scans

    def _station(self, rng: random.Random, op: GarmentOperation, operator: Operator,
                 arriving: list[tuple[float, str, int]]) -> list[tuple[float, str, int]]:  # fmt: skip
        free = 0.0
        leaving = []
        for arrived, code, pieces in sorted(arriving):
            begin = self._up(op.station, max(arrived, free))
            work = op.sam_minutes * 60 * pieces / operator.speed * rng.lognormvariate(0, 0.1)
            free = self._finish(op.station, begin, work)
            scrap = sum(rng.random() < self.scrap_rate for _ in range(pieces))
            good = pieces - scrap
            rework = sum(rng.random() < self.rework_rate for _ in range(good))
            self.passages.append(Passage(code, op.seq, arrived, free, pieces, good, scrap))
            scan = Scan(free, self.at(free), code, op.seq, op.station, operator.code, good, scrap, rework)
            self.scans.append(scan)
            if rng.random() < self.duplicate_rate:
                again = free + rng.uniform(1, 30)
                self.scans.append(Scan(again, self.at(again), code, op.seq, op.station, operator.code, good, scrap,
                                       rework, duplicate=True))  # fmt: skip
            if good:
                leaving.append((free, code, good))
        return leaving

    def _up(self, station: str, moment: float) -> float:
        for down in self.breakdowns:
            if down.station == station and down.start <= moment < down.end:
                return down.end
        return moment

    def _finish(self, station: str, begin: float, work: float) -> float:
        """When work started at ``begin`` ends, the station's breakdown (if it falls inside) added."""
        end = begin + work
        for down in self.breakdowns:
            if down.station == station and begin < down.start < end:
                end += down.end - down.start
        return end

    def at(self, elapsed: float) -> datetime:
        return self.start + timedelta(seconds=elapsed)

    # ------------------------------------------------------------------ ground truth

    def wip(self, elapsed: float) -> dict[int, int]:
        """Pieces that had entered each operation and not left it (good or scrap) at ``elapsed``."""
        return {op.seq: sum(p.pieces_in for p in self.passages if p.seq == op.seq and p.arrived <= elapsed)
                - sum(p.good + p.scrap for p in self.passages if p.seq == op.seq and p.left <= elapsed)
                for op in self.operations}  # fmt: skip

    def good(self, seq: int, elapsed: float | None = None) -> int:
        """Good pieces that had left operation ``seq`` by ``elapsed`` (default: the end)."""
        return sum(p.good for p in self.passages if p.seq == seq and (elapsed is None or p.left <= elapsed))

    def final_good(self) -> int:
        return self.good(self.operations[-1].seq)

    def end(self) -> float:
        return max(p.left for p in self.passages)

    def counters(self, elapsed: float) -> dict[str, int]:
        """Each station's piece counter (good and scrap it passed) at ``elapsed``."""
        station = {op.seq: op.station for op in self.operations}
        counts = {op.station: 0 for op in self.operations}
        for p in self.passages:
            if p.left <= elapsed:
                counts[station[p.seq]] += p.good + p.scrap
        return counts
