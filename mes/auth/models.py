"""The signed-in user as every face sees it, and the errors of signing in."""

from __future__ import annotations

from dataclasses import dataclass, field

from mes.errors import MesError


@dataclass(frozen=True)
class User:
    """Who is acting. ``scopes`` is None for a browser session (the role decides alone); for an
    API token (or a system actor) it is the token's scopes, which narrow what the role allows."""

    id: int
    name: str
    role: str
    locale: str = "en"
    display_name: str = ""
    scopes: frozenset[str] | None = field(default=None, compare=False)
    # A system actor (``system:order-start``) names the user it acts for; its audit rows say so.
    on_behalf_of: str | None = field(default=None, compare=False)


class SignInRefused(MesError):
    """Wrong name or password, a disabled user, or a user locked after repeated failures.
    The message never says which of these it was (it would tell an attacker)."""
