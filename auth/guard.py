"""The request guard: allowed hosts, same-origin writes, who is asking, and security headers.

Runs before every request on the Flask server under Dash, so pages, Dash's callback
endpoint, the API and the WebSocket handshake are all covered by one set of rules:

1. `Host` must be an allowed host (DNS rebinding gets 400).
2. With no sign-in configured, only loopback clients are served (unless AUTH_DISABLED).
3. A state-changing request from a browser must come from the dashboard's own origin (or an
   ALLOWED_ORIGINS one); the API refuses form-encoded bodies, which a cross-site HTML form
   could send. Scripts and curl send no `Origin` and are unaffected, as are bearer tokens.
4. The principal: a bearer token, a trusted proxy's user header, or the session cookie.
   Without one, an API call gets 401 JSON and a page redirects to `/login`.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from ipaddress import ip_address
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask, Response, g, jsonify, redirect, request, session
from flask.sessions import SecureCookieSessionInterface

from auth.credentials import CredentialsError, TokensFile, UsersFile
from auth.embed_link import EMBED_PREFIX, LINK_PRINCIPAL, verify_embed_link
from auth.exposure import LOOPBACK_NAMES, is_loopback
from auth.principal import OPEN_ACCESS, Principal
from settings import ROLES, Settings

log = logging.getLogger("slowquery.auth")

# /embed/static/ is plotly.js and the embed page's loader: code, no data
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/embed/static/")
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/logout", "/_favicon.ico", "/favicon.ico"})
API_PREFIXES = ("/api/", "/cloudwatch/", "/ws/", "/_dash-")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
SESSION_USER = "user"
# answers that hold statements or sign-in state: never kept by a browser or shared cache
NO_STORE_PREFIXES = ("/api/", "/cloudwatch/", "/_dash-update-component", "/_dash-layout",
                     "/login", EMBED_PREFIX)


class GuardConfig:
    """What the guard needs from Settings, resolved once (files, host names, origins)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.users = UsersFile(settings.auth_users_file) if settings.auth_users_file else None
        self.tokens = (TokensFile(settings.auth_tokens_file) if settings.auth_tokens_file
                       else None)
        self.allowed_hosts = settings.allowed_hosts or default_allowed_hosts(settings.host)
        self.allowed_origins = frozenset(o.rstrip("/") for o in settings.allowed_origins)

    def host_allowed(self, host: str) -> bool:
        name = hostname(host)
        for allowed in self.allowed_hosts:
            if allowed == "*" or name == allowed:
                return True
            if allowed.startswith(".") and (name.endswith(allowed) or name == allowed[1:]):
                return True
        return False

    def origin_allowed(self, origin: str) -> bool:
        """The dashboard's own origin, an ALLOWED_ORIGINS one, or an explicitly allowed host.

        Same-origin compares the origin's host:port with `Host`: the scheme may differ behind
        a TLS-terminating proxy, and `Host` itself has already passed the allowed-host check.
        """
        value = origin.strip().lower().rstrip("/")
        if value in self.allowed_origins:
            return True
        parts = urlsplit(value)
        if not parts.scheme or not parts.netloc:
            return False
        if parts.netloc == request.host.lower():
            return True
        return bool(self.settings.allowed_hosts) and self.host_allowed(parts.netloc)

    def trusted_proxy(self, address: str | None) -> bool:
        try:
            peer = ip_address(address or "")
        except ValueError:
            return False
        return any(peer in network for network in self.settings.auth_trusted_proxies)


def hostname(host: str) -> str:
    """`Host` without its port, lower-cased (`[::1]:8050` -> `::1`)."""
    value = host.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def default_allowed_hosts(bind_host: str) -> frozenset[str]:
    """Loopback names and the bind address; for a wildcard bind, this machine's names too."""
    names = set(LOOPBACK_NAMES)
    host = bind_host.strip().lower()
    if host in {"0.0.0.0", "::", ""}:
        for name in (socket.gethostname(), socket.getfqdn()):
            names.add(name.lower())
    else:
        names.add(host)
    return frozenset(names)


def client_address(config: GuardConfig) -> str:
    """The client's address: the peer, or the last untrusted hop behind trusted proxies."""
    peer = request.remote_addr or ""
    if not config.trusted_proxy(peer):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not config.trusted_proxy(hop):
            return hop
    return peer


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path in {"/api", "/cloudwatch", "/ws"}


def _error(message: str, status: int, **headers: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    response.headers.update(headers)
    return response


def _cross_origin_refusal(config: GuardConfig) -> Response | None:
    origin = request.headers.get("Origin")
    if origin is not None:
        if not config.origin_allowed(origin):
            return _error("cross-origin request refused: send it from the dashboard's own "
                          "page, or add the origin to ALLOWED_ORIGINS", 403)
        return None
    referer = request.headers.get("Referer")
    if referer and not config.origin_allowed(referer):
        return _error("cross-origin request refused (Referer is another site)", 403)
    if request.headers.get("Sec-Fetch-Site") in {"cross-site", "same-site"}:
        return _error("cross-origin request refused", 403)
    return None


def _token_principal(config: GuardConfig) -> Principal | None | Response:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error("Authorization must be 'Bearer <token>'", 401,
                      **{"WWW-Authenticate": "Bearer"})
    account = config.tokens.verify(token.strip()) if config.tokens else None
    if account is None:
        return _error("invalid or revoked API token", 401,
                      **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return Principal(account.name, account.role, via="token")


def _proxy_principal(config: GuardConfig) -> Principal | None:
    settings = config.settings
    if not settings.auth_proxy_header:
        return None
    user = request.headers.get(settings.auth_proxy_header, "").strip()
    if not user:
        return None
    if not config.trusted_proxy(request.remote_addr):
        log.warning("ignored %s from untrusted address %s", settings.auth_proxy_header,
                    request.remote_addr)
        return None
    role = settings.auth_proxy_role
    if settings.auth_proxy_role_header:
        asked = request.headers.get(settings.auth_proxy_role_header, "").strip().lower()
        if asked in ROLES:
            role = asked
    return Principal(user[:200], role, via="proxy")


def _session_principal(config: GuardConfig) -> Principal | None:
    username = session.get(SESSION_USER)
    if not username or config.users is None:
        return None
    account = config.users.find(username)
    if account is None:  # removed from the file: signed out everywhere
        session.clear()
        return None
    return Principal(account.name, account.role, via="session")


def identify(config: GuardConfig) -> Principal | None | Response:
    """The request's principal, None when nobody signed in, or a 401 for a bad token."""
    if not config.settings.auth_configured:
        return OPEN_ACCESS
    try:
        token = _token_principal(config)
        if token is not None:
            return token
        return _proxy_principal(config) or _session_principal(config)
    except CredentialsError as exc:
        log.error("sign-in unavailable: %s", exc)
        return _error("sign-in is unavailable: the credentials file cannot be read "
                      "(see the server log)", 503)


def _login_redirect() -> Response:
    target = request.full_path if request.query_string else request.path
    return redirect(f"/login?next={quote(target, safe='/')}")


def _guard(config: GuardConfig) -> Response | None:
    settings = config.settings
    path = request.path
    if path != "/healthz" and not config.host_allowed(request.host):
        return _error(f"host {hostname(request.host)[:100]!r} is not allowed: add it to "
                      "ALLOWED_HOSTS", 400)
    if not settings.auth_configured and not settings.auth_disabled and not is_loopback(
            request.remote_addr or ""):
        return _error("sign-in is not configured, so this dashboard answers loopback only "
                      "(set AUTH_USERS_FILE, AUTH_TOKENS_FILE or AUTH_PROXY_HEADER)", 403)
    bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
    websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    if (request.method in UNSAFE_METHODS and not bearer) or websocket:
        refusal = _cross_origin_refusal(config)
        if refusal is not None:
            return refusal
    if (request.method in UNSAFE_METHODS and _is_api(path)
            and request.mimetype in FORM_TYPES):
        return _error("send a JSON body (Content-Type: application/json)", 415)
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        g.principal = identify_quietly(config)
        return None
    principal = identify(config)
    if isinstance(principal, Response):
        return principal
    # an operator's signed link: this one chart, read-only (auth/embed_link.py)
    if (principal is None and path.startswith(EMBED_PREFIX) and settings.embed_link_days
            and verify_embed_link(settings.secret_key, path, request.args.items(multi=True))):
        principal = LINK_PRINCIPAL
    if principal is None:
        if _is_api(path):
            return _error("sign in first: send 'Authorization: Bearer <token>' or sign in "
                          "at /login", 401, **{"WWW-Authenticate": "Bearer"})
        return _login_redirect()
    g.principal = principal
    return None


def identify_quietly(config: GuardConfig) -> Principal | None:
    """The principal for a public path, where a bad token or file must not block the page."""
    found = identify(config)
    return found if isinstance(found, Principal) else None


class _SessionInterface(SecureCookieSessionInterface):
    """Secure cookies when the request came over https, also behind a trusted TLS proxy."""

    def __init__(self, config: GuardConfig) -> None:
        self._config = config

    def get_cookie_secure(self, app: Flask) -> bool:
        if request.is_secure:
            return True
        forwarded = request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        return forwarded and self._config.trusted_proxy(request.remote_addr)


def content_security_policy(script_hashes: Iterable[str],
                            frame_ancestors: Iterable[str] = ()) -> str:
    """A policy Dash works under: its inline scripts by hash, no other inline script; framed
    by the dashboard itself and `frame_ancestors` (EMBED_FRAME_ANCESTORS, /embed/ only)."""
    scripts = " ".join(["'self'", *script_hashes])
    ancestors = " ".join(["'self'", *frame_ancestors])
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ])


def init_app(server: Flask, settings: Settings, script_hashes: Any) -> GuardConfig:
    """Install the guard on `server`; `script_hashes()` gives Dash's inline-script hashes."""
    config = GuardConfig(settings)
    server.secret_key = settings.secret_key or None
    server.config.update(SESSION_COOKIE_NAME="sqd_session", SESSION_COOKIE_HTTPONLY=True,
                         SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=12 * 3600)
    server.session_interface = _SessionInterface(config)
    policy: list[str] = []  # [every response's, /embed/ pages']

    @server.before_request
    def _before() -> Response | None:
        return _guard(config)

    @server.after_request
    def _headers(response: Response) -> Response:
        if not policy:
            hashes = list(script_hashes())
            policy.append(content_security_policy(hashes))
            policy.append(content_security_policy(hashes, settings.embed_frame_ancestors))
        embed = request.path.startswith(EMBED_PREFIX)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if not (embed and settings.embed_frame_ancestors):  # it would refuse those origins
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", policy[1 if embed else 0])
        if request.path.startswith(NO_STORE_PREFIXES):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return config
