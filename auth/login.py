"""`/login` and `/logout`: a plain HTML form outside Dash, so signing in needs no JavaScript
and no callback endpoint is reachable before it."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, redirect, render_template_string, request, session

from auth.guard import SESSION_USER, GuardConfig, client_address
from auth.throttle import SignInThrottle

log = logging.getLogger("slowquery.auth")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Slow Query Dashboard</title>
<link rel="stylesheet" href="/assets/vendor/bootstrap.min.css">
</head><body class="bg-light">
<nav class="navbar navbar-dark bg-dark mb-5"><div class="container-fluid">
<span class="navbar-brand">Slow Query Dashboard</span></div></nav>
<main class="container" style="max-width: 24rem">
<h1 class="h4 mb-3">Sign in</h1>
{% if message %}<div class="alert alert-{{ level }}" id="login-message" role="alert">
{{ message }}</div>{% endif %}
{% if users_enabled %}
<form method="post" action="/login" id="login-form">
<input type="hidden" name="next" value="{{ next }}">
<div class="mb-3"><label class="form-label" for="username">User name</label>
<input class="form-control" id="username" name="username" autocomplete="username"
 value="{{ username }}" maxlength="100" required autofocus></div>
<div class="mb-3"><label class="form-label" for="password">Password</label>
<input class="form-control" id="password" name="password" type="password"
 autocomplete="current-password" maxlength="1000" required></div>
<button class="btn btn-primary w-100" type="submit" id="login-submit">Sign in</button>
</form>
{% else %}
<p class="text-muted">This dashboard has no user accounts: sign in through your company's
proxy, or call the API with a token (<code>Authorization: Bearer &lt;token&gt;</code>).</p>
{% endif %}
</main></body></html>"""


def safe_next(target: str | None) -> str:
    """Only a path on this site (`/digests?x=1`), never `//evil.example` or a full URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target[:2000]


def _page(config: GuardConfig, status: int = 200, message: str = "", level: str = "danger",
          username: str = "") -> tuple[str, int]:
    html = render_template_string(
        PAGE, message=message, level=level, username=username[:100],
        next=safe_next(request.values.get("next")), users_enabled=config.users is not None)
    return html, status


def create_blueprint(config: GuardConfig, throttle: SignInThrottle) -> Blueprint:
    blueprint = Blueprint("login", __name__)

    @blueprint.get("/login")
    def login_form() -> tuple[str, int] | Response:
        principal = getattr(g, "principal", None)
        if principal is not None and principal.signed_in:
            return redirect(safe_next(request.args.get("next")))
        return _page(config)

    @blueprint.post("/login")
    def login_submit() -> tuple[str, int] | Response:
        if config.users is None:
            return _page(config, 404, "Signing in with a password is not enabled here.")
        username = (request.form.get("username") or "").strip()[:100]
        password = request.form.get("password") or ""
        address = client_address(config)
        lockout = throttle.locked(username, address)
        if lockout is not None:
            minutes = max(1, round(lockout.retry_after_seconds / 60))
            log.warning("sign-in refused for %r from %s: too many failures", username, address)
            return _page(config, 429, f"Too many failed sign-ins. Try again in {minutes} "
                                      "minute(s).", username=username)
        account = config.users.verify(username, password[:1000]) if username else None
        if account is None:
            throttle.failed(username, address)
            log.warning("failed sign-in for %r from %s", username, address)
            return _page(config, 401, "Wrong user name or password.", username=username)
        throttle.succeeded(username)
        session.clear()
        session[SESSION_USER] = account.name
        session.permanent = True
        log.info("%s signed in (%s) from %s", account.name, account.role, address)
        return redirect(safe_next(request.form.get("next")))

    @blueprint.post("/logout")
    def logout() -> Response:
        session.clear()
        return redirect("/login")

    return blueprint
