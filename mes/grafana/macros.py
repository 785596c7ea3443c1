"""Grafana's PostgreSQL query expansion, reproduced so tests and benches run panel SQL.

Grafana turns a panel's SQL into what PostgreSQL sees in two steps: the
frontend replaces template variables (``$line``, ``${line:csv}``, ``[[line]]``,
built-ins such as ``$__interval``), then the PostgreSQL backend replaces its
macros (``$__timeFilter(col)``, ``$__timeGroup(col, '5m')``, ...). Both steps
are implemented here as Grafana documents them and as its source does
(``pkg/tsdb/grafana-postgresql-datasource/macros.go``,
``public/app/features/templating/formatRegistry.ts``), so a panel query that
runs here runs the same way in Grafana.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# Same pattern as Grafana's backend: $name( args without a closing parenthesis ).
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
# $var, ${var}, ${var:format}, ${var.field}, [[var]], [[var:format]] (templateSrv's regex).
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class MacroError(ValueError):
    """A query uses a macro or format Grafana would reject."""


def parse_interval(text: str) -> timedelta:
    """Parse a Grafana interval such as ``5m``, ``1h``, ``500ms`` or ``30`` (seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*", text)
    if not match:
        raise MacroError(f"error parsing interval {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])


def format_interval(interval: timedelta) -> str:
    """Grafana's ``$__interval`` text: the largest whole unit (``1m``, ``30s``, ``2h``, ``500ms``)."""
    ms = round(interval.total_seconds() * 1000)
    for unit, seconds in (("y", 31536000), ("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if ms >= seconds * 1000 and ms % (seconds * 1000) == 0:
            return f"{ms // (seconds * 1000)}{unit}"
    return f"{ms}ms"


def _go_number(value: float) -> str:
    """Go's ``%v`` of a float64 as used in ``floor(extract(epoch from x)/300)*300``."""
    return str(int(value)) if value == int(value) else repr(value)


def _rfc3339(moment: datetime) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


@dataclass
class Variable:
    """The current selection of one dashboard variable."""

    name: str
    values: list[str]
    texts: list[str] | None = None
    multi: bool = False
    include_all: bool = False
    all_selected: bool = False
    all_value: str | None = None


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_FORMATS: dict[str, Callable[[list[str]], str]] = {
    "csv": lambda vs: ",".join(vs),
    "raw": lambda vs: ",".join(vs),
    "pipe": lambda vs: "|".join(vs),
    "sqlstring": lambda vs: ",".join(_quote_literal(v) for v in vs),
    "singlequote": lambda vs: ",".join("'" + v.replace("'", "\\'") + "'" for v in vs),
    "doublequote": lambda vs: ",".join('"' + v.replace('"', '\\"') + '"' for v in vs),
    "json": lambda vs: json.dumps(vs if len(vs) != 1 else vs[0]),
    "distributed": lambda vs: ",".join(vs),
    "glob": lambda vs: vs[0] if len(vs) == 1 else "{" + ",".join(vs) + "}",
    "regex": lambda vs: vs[0] if len(vs) == 1 else "(" + "|".join(re.escape(v) for v in vs) + ")",
}


@dataclass
class QueryContext:
    """The time range, interval and variable selection one panel query is expanded with."""

    time_from: datetime
    time_to: datetime
    interval: timedelta = timedelta(minutes=1)
    variables: dict[str, Variable] = field(default_factory=dict)
    timescaledb: bool = False

    # ------------------------------------------------------------ variables

    def _builtin(self, name: str) -> list[str] | None:
        if name == "__interval":
            return [format_interval(self.interval)]
        if name == "__interval_ms":
            return [str(round(self.interval.total_seconds() * 1000))]
        if name == "__from":
            return [str(round(self.time_from.timestamp() * 1000))]
        if name == "__to":
            return [str(round(self.time_to.timestamp() * 1000))]
        if name == "__range_s":
            return [str(round((self.time_to - self.time_from).total_seconds()))]
        return None

    def _format(self, name: str, fmt: str | None) -> str | None:
        builtin = self._builtin(name)
        if builtin is not None:
            return builtin[0]
        variable = self.variables.get(name)
        if variable is None:
            return None  # Grafana leaves unknown variables as they are
        if variable.all_selected and variable.all_value is not None:
            return variable.all_value  # a custom "All" value is inserted unformatted
        values = variable.values
        if fmt is None:
            # The SQL datasources' own default (interpolateVariable): quote when the
            # variable can hold several values, insert a single plain value raw.
            if variable.multi or variable.include_all:
                return ",".join(_quote_literal(v) for v in values)
            return values[0] if values else ""
        if fmt == "text":
            return ", ".join(variable.texts or values)
        if fmt not in _FORMATS:
            raise MacroError(f"unknown variable format {fmt!r} in ${{{name}:{fmt}}}")
        return _FORMATS[fmt](values)

    def replace_variables(self, sql: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2) or match.group(4)
            fmt = match.group(3) or match.group(6)
            text = self._format(name, fmt)
            return match.group(0) if text is None else text

        return _VARIABLE.sub(substitute, sql)

    # ------------------------------------------------------------ macros

    def _time_group(self, args: Sequence[str]) -> str:
        if len(args) < 2:
            raise MacroError("macro $__timeGroup needs time column and interval and optional fill value")
        seconds = parse_interval(args[1].strip("'")).total_seconds()
        if self.timescaledb:
            return f"time_bucket('{seconds:.3f}s',{args[0]})"
        return f"floor(extract(epoch from {args[0]})/{_go_number(seconds)})*{_go_number(seconds)}"

    def _macro(self, name: str, args: list[str]) -> str:
        start, end = _rfc3339(self.time_from), _rfc3339(self.time_to)
        needs_column = {"__time", "__timeEpoch", "__timeFilter", "__unixEpochFilter"}
        if name in needs_column and (not args or not args[0]):
            raise MacroError(f"missing time column argument for macro {name}")
        if name == "__time":
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{start}' AND '{end}'"
        if name == "__timeFrom":
            return f"'{start}'"
        if name == "__timeTo":
            return f"'{end}'"
        if name == "__timeGroup":
            return self._time_group(args)
        if name == "__timeGroupAlias":
            return self._time_group(args) + ' AS "time"'
        if name == "__unixEpochFilter":
            return f"{args[0]} >= {int(self.time_from.timestamp())} AND {args[0]} <= {int(self.time_to.timestamp())}"
        if name == "__unixEpochFrom":
            return str(int(self.time_from.timestamp()))
        if name == "__unixEpochTo":
            return str(int(self.time_to.timestamp()))
        raise MacroError(f"unknown macro {name!r}")

    def replace_macros(self, sql: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            # Grafana's pre-5.3 compatibility: "$__timeGroup(...)," means the aliased form.
            if name == "__timeGroup" and sql[match.end() : match.end() + 1] == ",":
                name = "__timeGroupAlias"
            args = [arg.strip(" ") for arg in match.group(2).split(",")]
            return self._macro(name, args)

        # $__unixEpochFrom() etc. are also replaced by the shared SQL engine; one pass covers both.
        return _MACRO.sub(substitute, sql)

    def expand(self, sql: str) -> str:
        """The SQL PostgreSQL receives for ``sql`` under this context."""
        return self.replace_macros(self.replace_variables(sql))


# Grafana's rangeutil.roundInterval: the raw interval is rounded to a "nice" one.
_ROUNDING_MS = [
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
    (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000),
    (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
    (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000),
    (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000), (31536000000, 2592000000),
]  # fmt: skip


def panel_interval(time_from: datetime, time_to: datetime, max_data_points: int,
                   min_interval: timedelta = timedelta(seconds=1)) -> timedelta:  # fmt: skip
    """``$__interval`` as Grafana computes it: range / max data points, rounded, not below the minimum."""
    raw_ms = (time_to - time_from).total_seconds() * 1000 / max_data_points
    rounded = next((nice for limit, nice in _ROUNDING_MS if raw_ms <= limit), 31536000000)
    return max(timedelta(milliseconds=rounded), min_interval)
