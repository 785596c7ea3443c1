"""Authentication for the API routes: the dependencies of :mod:`mes.auth.deps`, re-exported
where the routes have always imported them. Every write route depends on ``audited(action)``
(role check + one audit row), every router on ``read_access``."""

from mes.auth.deps import AuditedWrite, CurrentUser, audited, current_user, require
from mes.auth.models import User

__all__ = ["AuditedWrite", "CurrentUser", "User", "audited", "current_user", "require"]
