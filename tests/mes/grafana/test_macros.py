"""Grafana's PostgreSQL macro and variable expansion, checked against Grafana's documented output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mes.grafana.macros import MacroError, QueryContext, Variable, format_interval, panel_interval, parse_interval

FROM = datetime(2017, 4, 21, 5, 1, 17, tzinfo=UTC)
TO = datetime(2017, 4, 21, 5, 6, 17, tzinfo=UTC)


def context(**variables: Variable) -> QueryContext:
    return QueryContext(FROM, TO, timedelta(minutes=5), dict(variables))


def test_time_filter_is_a_between_of_rfc3339_utc_times() -> None:
    assert context().expand("WHERE $__timeFilter(time)") == (
        "WHERE time BETWEEN '2017-04-21T05:01:17Z' AND '2017-04-21T05:06:17Z'"
    )


def test_time_from_and_to_are_quoted_literals() -> None:
    assert context().expand("$__timeFrom() $__timeTo()") == "'2017-04-21T05:01:17Z' '2017-04-21T05:06:17Z'"


def test_time_group_is_epoch_floor_on_plain_postgresql_and_time_bucket_on_timescaledb() -> None:
    assert context().expand("$__timeGroup(ts, '5m')") == "floor(extract(epoch from ts)/300)*300"
    assert context().expand("$__timeGroupAlias(ts, $__interval)") == 'floor(extract(epoch from ts)/300)*300 AS "time"'
    timescale = QueryContext(FROM, TO, timedelta(minutes=5), timescaledb=True)
    assert timescale.expand("$__timeGroup(ts, '1h')") == "time_bucket('3600.000s',ts)"


def test_time_group_followed_by_a_comma_gets_the_alias_like_grafana_5_2() -> None:
    expanded = context().expand("SELECT $__timeGroup(ts, '1m'), 1")
    assert expanded == 'SELECT floor(extract(epoch from ts)/60)*60 AS "time", 1'


def test_interval_variables() -> None:
    assert context().expand("$__interval $__interval_ms ${__interval}") == "5m 300000 5m"
    assert format_interval(timedelta(milliseconds=500)) == "500ms"
    assert format_interval(timedelta(seconds=90)) == "90s"
    assert parse_interval("2h") == timedelta(hours=2)


def test_single_value_variable_is_inserted_raw_unless_formatted() -> None:
    line = Variable("line", ["O'Brien line"])
    assert context(line=line).expand("$line|${line}|[[line]]|${line:sqlstring}|${line:raw}") == (
        "O'Brien line|O'Brien line|O'Brien line|'O''Brien line'|O'Brien line"
    )


def test_multi_value_variable_defaults_to_quoted_list_and_honours_formats() -> None:
    line = Variable("line", ["a", "b'c"], multi=True)
    ctx = context(line=line)
    assert ctx.expand("IN ($line)") == "IN ('a','b''c')"
    assert ctx.expand("${line:csv}") == "a,b'c"
    assert ctx.expand("${line:sqlstring}") == "'a','b''c'"
    assert ctx.expand("${line:pipe}") == "a|b'c"
    assert ctx.expand("${line:singlequote}") == "'a','b\\'c'"
    assert ctx.expand('${line:doublequote}') == '"a","b\'c"'


def test_all_with_a_custom_all_value_is_inserted_unformatted() -> None:
    line = Variable("line", ["a", "b"], multi=True, include_all=True, all_selected=True, all_value="%")
    assert context(line=line).expand("LIKE '$line'") == "LIKE '%'"


def test_unknown_variables_stay_and_unknown_macros_fail() -> None:
    assert context().expand("$nothing") == "$nothing"
    with pytest.raises(MacroError):
        context().expand("$__bogus(x)")
    with pytest.raises(MacroError):
        context(line=Variable("line", ["a"])).expand("${line:nosuchformat}")


def test_panel_interval_rounds_like_grafana() -> None:
    day = datetime(2026, 1, 1, tzinfo=UTC)
    assert panel_interval(day, day + timedelta(hours=3), 1000) == timedelta(seconds=10)
    assert panel_interval(day, day + timedelta(days=30), 1500) == timedelta(minutes=30)
    assert panel_interval(day, day + timedelta(minutes=5), 1000) == timedelta(seconds=1)
