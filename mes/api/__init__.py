"""LineBrain's REST API (FastAPI). ``create_app(database_url)`` builds it; OpenAPI at ``/docs``.

Routes are thin: they validate input and call one domain function of ``mes``.
Authentication has one seam, :func:`mes.api.auth.current_user`.
"""

from mes.api.app import create_app

__all__ = ["create_app"]
