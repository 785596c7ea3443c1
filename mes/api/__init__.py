"""LineBrain's REST API (FastAPI). ``create_app(database_url)`` builds it; OpenAPI at ``/docs``.

Routes are thin: they validate input and call one domain function of ``mes``.
Who may do what is :mod:`mes.auth` (``read_access`` on every router, ``audited(action)`` on
every write: role check and one audit row in the write's transaction).
"""

from mes.api.app import create_app

__all__ = ["create_app"]
