"""Users, roles, sessions, API tokens and the audit log.

Public surface: :mod:`mes.auth.permissions` (the one role × action table, ``allowed``),
:mod:`mes.auth.users` (``add_user``, ``change_user``, ``authenticate``),
:mod:`mes.auth.sessions` (``sign_in``, ``sign_out``), :mod:`mes.auth.tokens`,
:mod:`mes.auth.audit` (``record``, ``entries``) and the FastAPI dependencies in
:mod:`mes.auth.deps` (``current_user``, ``require``, ``audited``, ``csrf_protect``).
"""

from mes.auth.models import SignInRefused, User

__all__ = ["SignInRefused", "User"]
