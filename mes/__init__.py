"""LineBrain MES: production facts, KPIs, quality, API, web pages and the CLI.

``mes`` may import ``collectors``; never the other way round.
"""

from collectors.database.migrations import COLLECTORS, MigrationSource

MES = MigrationSource("mes", "mes")
ALL_MIGRATIONS = [COLLECTORS, MES]

__all__ = ["ALL_MIGRATIONS", "MES"]
