"""The sample store: validated, spooled, exactly-once writes of samples to PostgreSQL.

Public API::

    store = SampleStore.for_plant(plant, database_url, spool_dir=..., source="collect")
    store.start(); store.write(samples); store.flush(); store.close()
    result = import_csv("samples.csv", "plant.yaml", database_url)
    refresh_rollups(database_url)
"""

from collectors.store.importer import ImportResult, import_csv
from collectors.store.ledger import commit_batch
from collectors.store.rollups import RollupRefresher, configure_storage, refresh_rollups
from collectors.store.rows import RowEncoder, TagInfo, catalog
from collectors.store.sample_store import SampleStore, default_spool_dir
from collectors.store.spool import Spool, SpoolFull
from collectors.store.stats import PipelineStats, StoreStats

__all__ = [
    "ImportResult",
    "PipelineStats",
    "RollupRefresher",
    "RowEncoder",
    "SampleStore",
    "Spool",
    "SpoolFull",
    "StoreStats",
    "TagInfo",
    "catalog",
    "commit_batch",
    "configure_storage",
    "default_spool_dir",
    "import_csv",
    "refresh_rollups",
]
