"""Shared dependencies: a pooled autocommit connection per request, and domain errors
mapped to HTTP (bad input 422 naming the field, unknown 404, state clash 409)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import Depends, HTTPException, Request

from mes import errors
from mes.auth.deps import auth_connection

T = TypeVar("T")


def connection(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled autocommit connection for one request (503 when the app has no database)."""
    with auth_connection(request) as conn:
        yield conn


Conn = Annotated[psycopg.Connection, Depends(connection)]


def field_error(status: int, message: str, field: str | None, where: str = "body") -> HTTPException:
    """An error shaped like FastAPI's own 422s, so clients read one format."""
    loc = [where, field] if field else [where]
    return HTTPException(status, [{"loc": loc, "msg": message, "type": "value_error"}])


def call(fn: Callable[..., T], *args: Any, where: str = "body", **kwargs: Any) -> T:
    """Run a domain function; its errors become HTTP errors naming the field."""
    try:
        return fn(*args, **kwargs)
    except errors.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except errors.Conflict as exc:
        raise field_error(409, str(exc), exc.field, where) from exc
    except errors.MesError as exc:
        raise field_error(422, str(exc), exc.field, where) from exc
    except psycopg.errors.ForeignKeyViolation as exc:
        raise field_error(422, f"a referenced record does not exist: {exc.diag.message_detail}", None, where) from exc
    except psycopg.errors.CheckViolation as exc:
        raise field_error(422, f"value not allowed: {exc.diag.constraint_name}", None, where) from exc
    except psycopg.DataError as exc:  # e.g. a NUL byte in text, a number out of range
        raise field_error(422, f"value not storable: {exc}", None, where) from exc
