"""What views ask of the guard: who is this, may they act, may they see literals.

API routes and Dash callbacks call these inside a request; the guard (auth/guard.py) has
already put the request's principal on `flask.g`. A refusal is a werkzeug HTTPException, so
the API's error handler answers it as JSON (`{"error": ...}`) with its status.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, has_request_context, request
from werkzeug.exceptions import BadRequest, Forbidden

from auth.principal import OPEN_ACCESS, Principal

F = TypeVar("F", bound=Callable[..., Any])
OPERATORS_ONLY = "operators only: your role is viewer"
OPERATORS_ONLY_HINT = "Operators only: your role is viewer."
LITERALS_PARAM = "literals"


def current_principal() -> Principal:
    """The request's principal; outside a request (jobs, CLI) the open, local one."""
    if not has_request_context():
        return OPEN_ACCESS
    return getattr(g, "principal", None) or OPEN_ACCESS


def can_operate() -> bool:
    return current_principal().is_operator


def require_operator() -> None:
    """Raise 403 unless the request's principal is an operator."""
    if not can_operate():
        raise Forbidden(OPERATORS_ONLY)


def operator_required(view: F) -> F:
    """Decorate a state-changing route: a viewer gets 403 JSON before the view runs."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        require_operator()
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def literals_requested() -> bool:
    """`?literals=true` from an operator: True; absent or false: False; a viewer: 403.

    Literals are masked in every answer unless asked for, because example statements hold
    real values (e-mail addresses, names) and a viewer may not see them.
    """
    raw = request.args.get(LITERALS_PARAM)
    if raw is None or raw.strip().lower() in {"", "false", "0", "no"}:
        return False
    if raw.strip().lower() not in {"true", "1", "yes"}:
        raise BadRequest(f"{LITERALS_PARAM} must be true or false")
    if not can_operate():
        raise Forbidden("revealing literals is for operators only: your role is viewer")
    return True
