"""LineBrain MES: production facts, KPIs, quality, API, web pages and the CLI.

``mes`` may import ``collectors``; never the other way round.

Public API of the production core (modules are imported on use, so ``import mes``
stays light): ``mes.sync.sync_plant(conn, plant)``, ``mes.derive.run_once(conn,
plant, now=None)``, ``mes.kpi.kpis / downtime_pareto / oee_waterfall``,
``mes.orders``, ``mes.downtime``, ``mes.shifts``, ``mes.counts.adjust_count``,
``mes.status.line_status``, ``mes.api.create_app(database_url)``. In SQL:
``mes_kpi``, ``mes_timeline``, ``mes_downtime_pareto``, ``mes_oee_waterfall``,
``mes_current_state``, ``mes_downtime_current``. See docs/mes.md.
"""

from collectors.database.migrations import COLLECTORS, MigrationSource

MES = MigrationSource("mes", "mes")
ALL_MIGRATIONS = [COLLECTORS, MES]

__all__ = ["ALL_MIGRATIONS", "MES"]
