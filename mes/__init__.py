"""LineBrain MES: production facts, KPIs, quality, API, web pages and the CLI.

``mes`` may import ``collectors``; never the other way round.

Sub-packages by domain: ``mes.production`` (equipment, products, orders, shifts,
states, counts, downtime, derivation, the ISO 22400 KPIs: ``sync.sync_plant``,
``derive.run_once``, ``kpi.kpis``, ``counts.adjust_count``, ``status.line_status``),
``mes.quality``, ``mes.grafana``; the faces ``mes.api`` (``create_app(database_url)``)
and ``mes.cli``. In SQL: ``mes_kpi``, ``mes_timeline``, ``mes_downtime_pareto``,
``mes_oee_waterfall``, ``mes_current_state``, ``mes_downtime_current``. See docs/mes.md.
"""

from collectors.database.migrations import COLLECTORS, MigrationSource

MES = MigrationSource("mes", "mes")
ALL_MIGRATIONS = [COLLECTORS, MES]

__all__ = ["ALL_MIGRATIONS", "MES"]
