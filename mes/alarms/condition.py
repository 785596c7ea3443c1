"""Condition monitoring of motors (ISO 20816-3): zones, trend forecasts and "maintenance due".

For every asset under ``alarms.condition_monitoring`` the engine gets three
alarm points on its vibration tag: ``<asset>_vibration_alert`` (ALARM: baseline
+ 25% of the B/C boundary, never above it), ``<asset>_vibration_trip`` (TRIP:
the C/D boundary) and ``<asset>_maintenance_due``, a :class:`MaintenanceDue`
condition. That one averages the readings per bucket (default an hour),
keeps the buckets of the trend window (default 7 days), fits a straight line
and an exponential rise over the baseline, and forecasts when the velocity
reaches the C and D boundaries. It is raised when the earliest plausible
crossing of zone D (the credible fit, R² ≥ ``min_fit``, made one standard
error of its slope steeper) is within the asset's lead time plus a safety
margin (``forecast_margin``, default 50%: fits of noisy wear curves run a day
or two late on a week's window), and only once the velocity has risen
``min_rise`` (15%) above the baseline, so noise on a healthy motor never
raises it; each new
forecast is stored (``condition_forecasts``) whether it raises or not.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from collectors.config.alarms import AlarmRule, Asset, ConditionMonitoring
from mes.alarms.conditions import Condition, as_number

ZONES = ("A", "B", "C", "D")


def zone(velocity: float, boundaries: tuple[float, float, float]) -> str:
    """The ISO 20816-3 zone of a velocity RMS."""
    a_b, b_c, c_d = boundaries
    return "A" if velocity < a_b else "B" if velocity < b_c else "C" if velocity < c_d else "D"


@dataclass(frozen=True, slots=True)
class Forecast:
    """When the trend reaches zones C and D (POSIX seconds), by which model, how well it fits."""

    model: str  # "linear" or "exponential"
    fit: float  # R²
    rate: float  # mm/s per day (linear) or growth per day (exponential)
    eta_c: float  # the fitted trend reaches the B/C boundary
    eta_d: float  # ... and the C/D boundary
    eta_d_early: float  # the trend one standard error steeper reaches C/D: what "maintenance due" is judged on


def _fit_line(xs: list[float], ys: list[float],
              weights: list[float] | None = None) -> tuple[float, float, float, float] | None:  # fmt: skip
    """(Weighted) least squares y = a + b·x; (a, b, R², standard error of b), or None when x does not vary."""
    n = len(xs)
    w = weights or [1.0] * n
    total = sum(w)
    mean_x = sum(wi * x for wi, x in zip(w, xs, strict=True)) / total
    mean_y = sum(wi * y for wi, y in zip(w, ys, strict=True)) / total
    sxx = sum(wi * (x - mean_x) ** 2 for wi, x in zip(w, xs, strict=True))
    if sxx == 0 or n < 3:
        return None
    sxy = sum(wi * (x - mean_x) * (y - mean_y) for wi, x, y in zip(w, xs, ys, strict=True))
    syy = sum(wi * (y - mean_y) ** 2 for wi, y in zip(w, ys, strict=True))
    sxx, sxy, syy = sxx * n / total, sxy * n / total, syy * n / total  # weights relative: n effective points
    b = sxy / sxx
    a = mean_y - b * mean_x
    fit = (sxy * sxy) / (sxx * syy) if syy > 0 else 0.0
    residual = max(syy - b * sxy, 0.0)
    return a, b, fit, math.sqrt(residual / (n - 2) / sxx)


def forecast(points: list[tuple[float, float]], baseline: float, boundaries: tuple[float, float, float],
             min_fit: float) -> Forecast | None:  # fmt: skip
    """The earliest credible forecast of reaching C and D from ``points`` (time, velocity), or None when
    no model fits a rise. Times are days relative to the last point internally, POSIX seconds out."""
    if len(points) < 3:
        return None
    last_t = points[-1][0]
    days = [(t - last_t) / 86400.0 for t, _ in points]
    values = [v for _, v in points]
    _, b_c, c_d = boundaries
    candidates: list[Forecast] = []
    line = _fit_line(days, values)
    if line is not None and line[1] > 0 and line[2] >= min_fit:
        a, b, fit, error = line
        fast = b + error  # the rise one standard error faster: the earliest plausible crossing
        candidates.append(Forecast("linear", fit, b, last_t + _eta(a, b, b_c), last_t + _eta(a, b, c_d),
                                   last_t + _eta(mean(values) - fast * mean(days), fast, c_d)))
    exponential = _fit_exponential(days, values, baseline)
    if exponential is not None and exponential[3] >= min_fit:
        offset, c, k, fit, error = exponential
        centre = mean(days)
        etas = [last_t + _eta_exponential(offset, c, k, level) for level in (b_c, c_d)]
        early = last_t + _eta_exponential(offset, c - error * centre, k + error, c_d)  # pivot on the mean day
        candidates.append(Forecast("exponential", fit, k, etas[0], etas[1], early))
    return min(candidates, key=lambda f: f.eta_d_early, default=None)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _eta_exponential(offset: float, c: float, k: float, level: float) -> float:
    """Seconds from day 0 until offset + exp(c + k·day) reaches ``level`` (0 when it has)."""
    if level <= offset:
        return 0.0
    return max((math.log(level - offset) - c) / k, 0.0) * 86400.0


def _fit_exponential(days: list[float], values: list[float],
                     baseline: float) -> tuple[float, float, float, float, float] | None:  # fmt: skip
    """v = offset + exp(c + k·day) with k > 0: the offset (the level the rise starts from, at most the
    baseline) is searched on a grid, c and k fitted on the log of the excess; the best (offset, c, k, R²)."""
    top = min(min(values) * 0.99, baseline)
    if top <= 0:
        return None
    best: tuple[float, float, float, float, float] | None = None
    for step in range(25):
        offset = top * step / 24
        excess = [v - offset for v in values]
        # Weighted by the excess squared: the log would otherwise let the noisy small early values dominate.
        curve = _fit_line(days, [math.log(e) for e in excess], [e * e for e in excess])
        if curve is not None and curve[1] > 0 and (best is None or curve[2] > best[3]):
            best = (offset, *curve)
    return best


def _eta(a: float, b: float, level: float) -> float:
    """Seconds from the last point (day 0) until a + b·day reaches ``level`` (0 when it has)."""
    return max((level - a) / b, 0.0) * 86400.0


class MaintenanceDue(Condition):
    """Raised while the forecast of zone D is within the asset's lead time (or the asset is in zone D)."""

    __slots__ = ("asset", "baseline", "boundaries", "bucket", "bucket_s", "buckets", "fresh", "latest", "lead_s",
                 "min_fit", "min_points", "min_rise", "window_s")  # fmt: skip

    def __init__(self, rule: AlarmRule, tag: str, asset: Asset, settings: ConditionMonitoring) -> None:
        super().__init__(rule, tag)
        self.asset = asset
        self.boundaries = asset.boundaries
        self.limit = self.boundaries[2]
        self.baseline: float | None = asset.baseline
        self.bucket_s = settings.bucket_minutes * 60.0
        self.window_s = settings.trend_window_days * 86400.0
        self.min_points = settings.min_points
        self.min_fit = settings.min_fit
        self.min_rise = settings.min_rise
        self.lead_s = asset.lead_time_days * 86400.0 * (1 + settings.forecast_margin)
        self.buckets: deque[tuple[float, float]] = deque()
        self.bucket: list[float] = []  # [start, sum, count]
        self.fresh = False  # a new forecast the store has not written yet
        self.latest: Forecast | None = None

    def judge(self, value: object, good: bool, t: float) -> bool | None:
        v = as_number(value) if good else None
        if v is None:
            return None
        bucket = self.bucket
        if not bucket:
            self.bucket = [t, v, 1.0]
            return None
        if t - bucket[0] < self.bucket_s:
            bucket[1] += v
            bucket[2] += 1
            return None
        self._close_bucket(bucket[0], bucket[1] / bucket[2])
        self.bucket = [t, v, 1.0]
        return self._judge_trend(t)

    def _close_bucket(self, start: float, mean: float) -> None:
        self.buckets.append((start, mean))
        while self.buckets and self.buckets[0][0] < start - self.window_s:
            self.buckets.popleft()
        learned = min(mean for _, mean in self.buckets)
        if self.asset.baseline is None and (self.baseline is None or learned < self.baseline):
            self.baseline = learned
        self.value = mean

    def _judge_trend(self, t: float) -> bool | None:
        if len(self.buckets) < self.min_points:
            return None
        points = list(self.buckets)
        baseline = self.baseline or points[0][1]
        risen = points[-1][1] >= baseline * (1 + self.min_rise)
        self.latest = forecast(points, baseline, self.boundaries, self.min_fit) if risen else None
        self.fresh = True
        if points[-1][1] >= self.boundaries[2]:
            return True
        if self.latest is None:
            return False
        # Judged again only with the next bucket: raise now if D would be within the lead time by then.
        next_look = points[-1][0] - points[-2][0]
        lead = self.lead_s * (1.5 if self.raw else 1.0) + next_look  # hysteresis: clears well outside it
        return self.latest.eta_d_early - t <= lead


def asset_rules(asset: Asset) -> list[tuple[AlarmRule, Asset | None]]:
    """The alarm rules of one asset: ALARM and TRIP levels on its vibration, and maintenance due."""
    common: dict[str, Any] = {"tag": asset.vibration_tag, "area": asset.area, "line": asset.line,
                              "role": asset.role, "suppress_in": []}  # fmt: skip
    label = asset.name or asset.id
    alert, trip = asset.alert_level(), asset.trip_level()
    return [
        (AlarmRule(name=f"{asset.id}_vibration_alert", kind="high", limit=alert, deadband=0.05 * alert,
                   priority="medium", message=f"{label}: vibration above ALARM {alert:g} mm/s", **common), None),
        (AlarmRule(name=f"{asset.id}_vibration_trip", kind="high", limit=trip, deadband=0.05 * trip,
                   priority="high", message=f"{label}: vibration in zone D (TRIP {trip:g} mm/s)", **common), None),
        (AlarmRule.model_construct(name=f"{asset.id}_maintenance_due", kind="maintenance_due", priority="medium",
                                   limit=None, deadband=0.0, on_delay=0.0, off_delay=0.0, latched=False,
                                   ack_within=None, state=None, setpoint_tag=None, tags=None,
                                   message=f"{label}: maintenance due, zone D forecast within "
                                           f"{asset.lead_time_days:g} days", **common), asset),
    ]  # fmt: skip
