"""Sign-in, tokens, the trusted proxy and roles, through the real app on both store adapters."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, replace
from ipaddress import ip_network
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app import create_app
from auth.credentials import add_token, add_user
from settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent
OPERATOR_PASSWORD = "operator-pass-1234"
VIEWER_PASSWORD = "viewer-pass-5678"


@dataclass
class Secured:
    settings: Settings
    operator_token: str
    viewer_token: str

    def client(self) -> FlaskClient:
        return create_app(self.settings).server.test_client()


@pytest.fixture(params=["sqlite", "mongodb"])
def secured(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Secured:
    users, tokens = tmp_path / "users.json", tmp_path / "tokens.json"
    add_user(users, "olivia", OPERATOR_PASSWORD, "operator")
    add_user(users, "victor", VIEWER_PASSWORD, "viewer")
    operator_token = add_token(tokens, "ci", "operator")
    viewer_token = add_token(tokens, "grafana", "viewer")
    configured = replace(settings, auth_users_file=users, auth_tokens_file=tokens,
                         secret_key="test-secret-key-0123456789")
    if request.param == "mongodb":
        configured = replace(configured, database_url=request.getfixturevalue("mongo_url"))
    return Secured(configured, operator_token, viewer_token)


def sign_in(client: FlaskClient, username: str, password: str, **kwargs):
    return client.post("/login", data={"username": username, "password": password,
                                       "next": "/digests"}, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_credentials_pages_redirect_and_the_api_is_401(secured: Secured) -> None:
    client = secured.client()
    page = client.get("/digests?month=2026-10")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login?next=/digests%3Fmonth%3D2026-10"
    for path in ("/api/instances", "/cloudwatch/runs", "/api/digests", "/_dash-layout",
                 "/_dash-dependencies", "/ws/collection/x"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert "sign in" in response.get_json()["error"]
    update = client.post("/_dash-update-component", json={})
    assert update.status_code == 401
    # what needs no sign-in
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/assets/app.css").status_code == 200


def test_sign_in_sets_a_safe_cookie_and_opens_pages(secured: Secured) -> None:
    client = secured.client()
    response = sign_in(client, "olivia", OPERATOR_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/digests"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/digests").status_code == 200
    assert client.get("/api/instances").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    assert "olivia" in client.get("/_dash-layout").get_data(as_text=True)
    client.post("/logout")
    assert client.get("/api/instances").status_code == 401


def test_the_cookie_is_secure_over_https(secured: Secured) -> None:
    client = secured.client()
    response = sign_in(client, "olivia", OPERATOR_PASSWORD, base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_and_failures_are_rate_limited(secured: Secured) -> None:
    client = secured.client()
    for _ in range(5):
        refused = sign_in(client, "olivia", "wrong-password-xx")
        assert refused.status_code == 401
        assert "Wrong user name or password" in refused.get_data(as_text=True)
    locked = sign_in(client, "olivia", OPERATOR_PASSWORD)  # even the right one, for a while
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
    # the lock is per user: another user from the same address still signs in
    assert sign_in(client, "victor", VIEWER_PASSWORD).status_code == 302
    # and it is kept in the store, so another worker (a new app on the same store) sees it
    assert sign_in(secured.client(), "olivia", OPERATOR_PASSWORD).status_code == 429


def test_an_unknown_user_and_a_next_to_another_site_are_handled(secured: Secured) -> None:
    client = secured.client()
    assert sign_in(client, "nobody", "whatever-password").status_code == 401
    response = client.post("/login", data={"username": "victor", "password": VIEWER_PASSWORD,
                                           "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"


def test_tokens_carry_their_role(secured: Secured) -> None:
    client = secured.client()
    viewer, operator = bearer(secured.viewer_token), bearer(secured.operator_token)
    assert client.get("/api/instances", headers=viewer).status_code == 200
    for path in ("/api/realtime/stop", "/api/realtime/start", "/cloudwatch/run",
                 "/api/instances/refresh"):
        response = client.post(path, headers=viewer)
        assert response.status_code == 403, path
        assert response.get_json()["error"] == "operators only: your role is viewer"
    assert client.post("/api/realtime/stop", headers=operator).status_code == 200
    bad = client.get("/api/instances", headers=bearer("sqd_not-a-token"))
    assert bad.status_code == 401 and "invalid" in bad.get_json()["error"]
    basic = client.get("/api/instances", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401


def test_a_viewer_may_not_reveal_literals(secured: Secured) -> None:
    client = secured.client()
    viewer, operator = bearer(secured.viewer_token), bearer(secured.operator_token)
    for path in ("/api/digests?literals=true", "/api/realtime/queries?literals=true",
                 "/api/plans?literals=true"):
        assert client.get(path, headers=viewer).status_code == 403, path
        assert client.get(path, headers=operator).status_code == 200, path


def test_a_viewer_session_is_refused_state_changes(secured: Secured) -> None:
    client = secured.client()
    sign_in(client, "victor", VIEWER_PASSWORD)
    assert client.post("/api/realtime/stop").status_code == 403
    assert client.get("/api/realtime/status").status_code == 200


def test_a_user_removed_from_the_file_is_signed_out(secured: Secured) -> None:
    client = secured.client()
    sign_in(client, "victor", VIEWER_PASSWORD)
    assert client.get("/api/instances").status_code == 200
    path = secured.settings.auth_users_file
    path.write_text(path.read_text().replace('"victor"', '"victor-gone"'))
    assert client.get("/api/instances").status_code == 401


def test_proxy_user_is_trusted_only_from_trusted_addresses(settings: Settings) -> None:
    proxied = replace(settings, auth_proxy_header="X-Forwarded-User",
                      auth_proxy_role_header="X-Forwarded-Role",
                      auth_trusted_proxies=(ip_network("127.0.0.1/32"),))
    client = create_app(proxied).server.test_client()
    headers = {"X-Forwarded-User": "pat@example.com"}
    assert client.get("/api/instances", headers=headers).status_code == 200
    assert client.post("/api/realtime/stop", headers=headers).status_code == 403  # viewer
    operator = {**headers, "X-Forwarded-Role": "operator"}
    assert client.post("/api/realtime/stop", headers=operator).status_code == 200
    untrusted = client.get("/api/instances", headers=headers,
                           environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert untrusted.status_code == 401


def test_host_origin_and_form_checks(settings: Settings) -> None:
    client = create_app(settings).server.test_client()
    rebinding = client.get("/api/instances", headers={"Host": "attacker.example"})
    assert rebinding.status_code == 400
    assert "ALLOWED_HOSTS" in rebinding.get_json()["error"]
    assert client.get("/digests", headers={"Host": "attacker.example:8050"}).status_code == 400
    assert client.get("/healthz", headers={"Host": "10.0.0.5"}).status_code == 200
    foreign = {"Origin": "https://evil.example"}
    for path in ("/cloudwatch/run", "/api/realtime/stop", "/api/instances/refresh",
                 "/_dash-update-component"):
        response = client.post(path, headers=foreign)
        assert response.status_code == 403, path
        assert "cross-origin" in response.get_json()["error"]
    form = client.post("/api/realtime/stop", data={"instance_id": "x"})
    assert form.status_code == 415
    text_plain = client.post("/cloudwatch/run", data="{}", content_type="text/plain")
    assert text_plain.status_code == 415
    referer = client.post("/api/realtime/stop", headers={"Referer": "https://evil.example/"})
    assert referer.status_code == 403
    # scripts and curl: no Origin, JSON or empty body, keep working on loopback
    assert client.post("/api/realtime/stop").status_code == 200
    assert client.post("/api/realtime/stop", json={}).status_code == 200
    same = client.post("/api/realtime/stop", headers={"Origin": "http://localhost"})
    assert same.status_code == 200
    allowed = create_app(replace(settings, allowed_origins=frozenset({"https://wiki.example"}))
                         ).server.test_client()
    assert allowed.post("/api/realtime/stop",
                        headers={"Origin": "https://wiki.example"}).status_code == 200


def test_allowed_hosts_setting_replaces_the_default(settings: Settings) -> None:
    client = create_app(replace(settings, allowed_hosts=frozenset({".example.com"}))
                        ).server.test_client()
    assert client.get("/api/instances", headers={"Host": "dash.example.com"}).status_code == 200
    assert client.get("/api/instances", headers={"Host": "localhost"}).status_code == 400


def test_security_headers_on_pages_and_api(settings: Settings) -> None:
    client = create_app(settings).server.test_client()
    for path in ("/digests", "/api/instances", "/login"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "SAMEORIGIN", path
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in policy and "'unsafe-inline'" not in policy.split(
            "script-src")[1].split(";")[0], path
    assert client.get("/api/instances").headers["Cache-Control"] == "no-store"


def test_without_sign_in_only_loopback_clients_are_served(settings: Settings) -> None:
    client = create_app(settings).server.test_client()
    remote = client.get("/api/instances", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert remote.status_code == 403 and "AUTH_USERS_FILE" in remote.get_json()["error"]
    opened = create_app(replace(settings, auth_disabled=True)).server.test_client()
    assert opened.get("/api/instances",
                      environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 200
    assert b"auth-disabled-banner" in opened.get("/_dash-layout").data


@pytest.mark.parametrize(("environ", "message"), [
    ({"AUTH_USERS_FILE": "/tmp/u.json"}, "SECRET_KEY: required when AUTH_USERS_FILE is set"),
    ({"AUTH_PROXY_HEADER": "X-User"}, "AUTH_TRUSTED_PROXIES: required"),
    ({"AUTH_TRUSTED_PROXIES": "10.0.0.0/33"}, "AUTH_TRUSTED_PROXIES: expected IP addresses"),
    ({"AUTH_PROXY_ROLE": "admin"}, "AUTH_PROXY_ROLE: expected one of viewer, operator"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY: invalid value"),
])
def test_auth_settings_are_checked(environ: dict, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, dotenv_path=None)
    assert str(caught.value).startswith(message)
    assert "short" not in str(caught.value) or "SECRET" not in message


def _run(args: list[str], tmp_path: Path, env: dict | None = None, stdin: str = ""):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=tmp_path,
                          input=stdin, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", **(env or {})})


def test_user_and_token_commands_store_only_hashes(tmp_path: Path) -> None:
    users, tokens = tmp_path / "users.json", tmp_path / "tokens.json"
    added = _run(["user", "add", "dana", "--role", "operator", "--password-stdin"], tmp_path,
                 {"AUTH_USERS_FILE": str(users), "SECRET_KEY": "x" * 20},
                 stdin="dana-password-42\n")
    assert added.returncode == 0, added.stderr
    assert "dana-password-42" not in users.read_text()
    assert users.stat().st_mode & 0o077 == 0
    made = _run(["token", "add", "grafana", "--role", "viewer", "--file", str(tokens)],
                tmp_path)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("sqd_") and len(token) > 40
    assert token not in tokens.read_text()
    short = _run(["user", "add", "eve", "--role", "viewer", "--password-stdin", "--file",
                  str(users)], tmp_path, stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    unset = _run(["token", "add", "x", "--role", "viewer"], tmp_path)
    assert unset.returncode == 2 and "AUTH_TOKENS_FILE: not set" in unset.stderr
    client = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}",
                                 scheduler_enabled=False, auth_users_file=users,
                                 auth_tokens_file=tokens, secret_key="y" * 20)
                        ).server.test_client()
    assert client.get("/api/instances", headers=bearer(token)).status_code == 200
    assert sign_in(client, "dana", "dana-password-42").status_code == 302


def test_serving_beyond_loopback_without_sign_in_refuses_to_start(tmp_path: Path) -> None:
    result = _run([], tmp_path, {"HOST": "0.0.0.0", "PORT": "1"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: refusing to listen on 0.0.0.0 without "
                                            "sign-in: set AUTH_USERS_FILE")
    gunicorn = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", "0.0.0.0:1", "app:server"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert gunicorn.returncode == 2
    assert "refusing to listen on 0.0.0.0 without sign-in" in gunicorn.stderr


def test_websocket_handshakes_from_other_origins_are_refused(settings: Settings,
                                                             tmp_path: Path) -> None:
    import threading

    import websocket
    from werkzeug.serving import make_server

    from tests.servers import free_port

    tokens = tmp_path / "ws-tokens.json"
    token = add_token(tokens, "ws", "viewer")
    app = create_app(replace(settings, auth_tokens_file=tokens))
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"ws://127.0.0.1:{port}/ws/collection/no-such-run"
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, timeout=10, origin="https://evil.example",
                                        header=[f"Authorization: Bearer {token}"])
        assert refused.value.status_code == 403
        with pytest.raises(websocket.WebSocketBadStatusException) as anonymous:
            websocket.create_connection(url, timeout=10)
        assert anonymous.value.status_code == 401
        ws = websocket.create_connection(url, timeout=10, origin=f"http://127.0.0.1:{port}",
                                         header=[f"Authorization: Bearer {token}"])
        first = ws.recv()
        assert "unknown collection_id" in first
        ws.close()
    finally:
        server.shutdown()
