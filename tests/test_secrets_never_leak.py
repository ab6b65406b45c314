"""Secrets never leak: recognisable values for every secret the app holds, the whole app run
on real servers (moto, MariaDB, nx-27017), and every answer, log record and database byte
searched for them.

The secrets: MYSQL_PASSWORD, SECRET_KEY, AWS_SECRET_ACCESS_KEY (and a session token), the
password in AWS_ENDPOINT_URL (three apps on one store: an endpoint that is moto, one where
nothing listens and one botocore refuses to parse), a static instance's password
(password_env), the users' passwords (right and wrong, and as Basic auth), and API tokens
(valid and invalid). Every one of them contains LEAKCHECK except the real tokens, which are
random, so the search also finds a secret that was cut short (`'mysqlpw-LEAKCHECK...`).

The failure paths: discovery and collection against the dead and the invalid endpoint,
real-time polls refused (wrong password), unreachable (closed port, unresolvable RDS hosts),
EXPLAIN that fails, wrong sign-ins and a locked-out user, bad tokens, bad bodies and
arguments, other origins, viewers asking for operators' things.

What is searched: every route of the Flask url_map (so a new route is included by itself) with
good and bad arguments, query strings and bodies, as anonymous, with bad credentials, with
viewer and operator tokens and sessions; the WebSocket messages of a good and a failed run;
every page in headless Chromium signed in (the DOM, Dash's whole client state, the cookies
and the browser console) with its modals opened; every log record of the process at DEBUG;
and the bytes of the SQLite files, or every document of every MongoDB collection.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from selenium.webdriver.common.by import By

from app import create_app
from auth.credentials import add_token, add_user
from settings import Settings
from tests.conftest import REGION
from tests.mariadb_server import require_mariadb, start_mariadb
from tests.rds_seed import seed_rds
from tests.servers import free_port, serving

MYSQL_PASSWORD = "mysqlpw-LEAKCHECK-1"
SECRET_KEY = "secretkey-LEAKCHECK-2-0123456789"
AWS_SECRET = "awssecret-LEAKCHECK-3"
AWS_SESSION_TOKEN = "sessiontoken-LEAKCHECK-3b"
URL_SECRET = "urlsecret-LEAKCHECK-4"
DEAD_URL_SECRET = "urlsecret-LEAKCHECK-5"
INVALID_URL_SECRET = "urlsecret-LEAKCHECK-10"
OPERATOR_PASSWORD = "userpw-LEAKCHECK-6-olivia"
VIEWER_PASSWORD = "userpw-LEAKCHECK-6-victor"
WRONG_PASSWORD = "wrongpw-LEAKCHECK-7"
BAD_TOKEN = "sqd_LEAKCHECK-8-revoked-or-mistyped"
STATIC_PASSWORD = "staticpw-LEAKCHECK-9"
MARKER = "LEAKCHECK"
STATIC_PASSWORD_ENV = "LEAK_TEST_STATIC_PW"  # the variable's name is not a secret
OCTOBER = "2026-10"


# ---- the search ------------------------------------------------------------------------------
def _base64_forms(value: bytes) -> set[str]:
    """The characters of base64(value) that do not depend on its neighbours, at each of the
    three byte alignments it can have inside a longer encoded blob (a cookie, a header)."""
    forms = set()
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * pad + value).decode("ascii")
            start = -(-pad * 8 // 6)  # ceil: chars touched by the padding
            end = (pad + len(value)) * 8 // 6  # chars made only of our bytes
            if end - start >= 8:
                forms.add(encoded[start:end])
    return forms


def secret_forms(value: str) -> tuple[set[str], set[str]]:
    """(case-insensitive forms, exact forms) under which `value` would be recognised."""
    loose = {value.lower(), quote(value, safe="").lower(), value.encode().hex()}
    return loose, _base64_forms(value.encode())


@dataclass
class Secrets:
    """Named secret values and the search for them."""

    values: dict[str, str]
    pairs: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (user, password)

    def patterns(self) -> list[tuple[str, str, bool]]:
        """(secret name, text, exact?) for every form of every secret, and of the marker."""
        found = []
        for name, value in {**self.values, "LEAKCHECK marker": MARKER}.items():
            loose, exact = secret_forms(value)
            found += [(name, p, False) for p in loose] + [(name, p, True) for p in exact]
        for name, (user, password) in self.pairs.items():
            found += [(name, p, True) for p in _base64_forms(f"{user}:{password}".encode())]
        return found

    def matches(self, data: str | bytes) -> list[tuple[str, int, str]]:
        """(secret name, position, text searched) of every form found in `data`."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if isinstance(data, bytes):
            text += "\n" + data.decode("latin-1")  # bytes a UTF-8 decode would mangle
        lowered = text.lower()
        found = []
        for name, pattern, exact in self.patterns():
            position = text.find(pattern) if exact else lowered.find(pattern)
            if position >= 0:
                found.append((name, position, text))
        return found

    def find(self, data: str | bytes) -> list[str]:
        """Names of the secrets found in `data` (text or bytes, any encoding around them)."""
        return sorted({name for name, _position, _text in self.matches(data)})


@dataclass
class Evidence:
    """Everything the app said anywhere, labelled with where it was said."""

    items: list[tuple[str, str | bytes]] = field(default_factory=list)

    def add(self, where: str, data: Any) -> None:
        if data is None:
            return
        if not isinstance(data, str | bytes):
            data = json.dumps(data, default=str, sort_keys=True)
        self.items.append((where, data))

    def hits(self, secrets: Secrets) -> list[str]:
        out = []
        for where, data in self.items:
            found = secrets.matches(data)
            if found:
                names = ", ".join(sorted({name for name, _p, _t in found}))
                _name, at, text = min(found, key=lambda f: f[1])
                out.append(f"{where}: {names} … {text[max(0, at - 160):at + 60]!r}")
        return out

    def contains(self, prefix: str, text: str) -> bool:
        """Does any item whose label starts with `prefix` hold `text` (a positive control)?"""
        for where, data in self.items:
            if where.startswith(prefix):
                body = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
                if text in body:
                    return True
        return False


def test_the_search_finds_planted_secrets() -> None:
    """The search must be able to fail: planted values are found however they are wrapped."""
    secrets = Secrets({"db password": MYSQL_PASSWORD, "token": "sqd_AbCdEf0123456789xyz"},
                      {"basic": ("olivia", OPERATOR_PASSWORD)})
    assert secrets.find("error: Access denied ('mysqlpw-LEAKCHECK-1')") == [
        "LEAKCHECK marker", "db password"]
    assert secrets.find("cut short: 'mysqlpw-LE") == []  # the marker is whole or absent
    assert "LEAKCHECK marker" in secrets.find("cut short: 'mysqlpw-LEAKCHECK...")
    assert secrets.find(b"\x00\x01" + b"MYSQLPW-leakcheck-1".lower() + b"\xff") == [
        "LEAKCHECK marker", "db password"]
    assert secrets.find("url=" + quote("sqd_AbCdEf0123456789xyz/", safe="")) == ["token"]
    for prefix in ("", "x", "xy", "xyz"):
        blob = base64.b64encode(f'{prefix}{{"pw": "sqd_AbCdEf0123456789xyz"}}'.encode())
        assert "token" in secrets.find(b"cookie=" + blob + b";"), prefix
    basic = base64.b64encode(f"olivia:{OPERATOR_PASSWORD}".encode()).decode()
    assert "basic" in secrets.find(f"Authorization: Basic {basic}")
    assert secrets.find("orders-prd-1 select * from t where id = ?") == []
    evidence = Evidence()
    evidence.add("log", "nothing here")
    evidence.add("page", {"nested": ["a", {"b": "sqd_AbCdEf0123456789xyz"}]})
    assert [h.split(":")[0] for h in evidence.hits(secrets)] == ["page"]


# ---- the world: MariaDB, moto, the app -------------------------------------------------------
@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory):
    """A MariaDB whose monitoring account's password is MYSQL_PASSWORD."""
    require_mariadb()
    server = start_mariadb(tmp_path_factory.mktemp("leak-mariadb"), networking=True)
    with server.connect() as conn, conn.cursor() as cursor:
        cursor.execute("CREATE DATABASE shop")
        cursor.execute("USE shop")
        cursor.execute("CREATE TABLE shop.orders (id INT PRIMARY KEY, total INT)")
        cursor.execute("INSERT INTO shop.orders SELECT seq, seq FROM seq_1_to_100")
        cursor.execute(f"CREATE USER monitor@'%' IDENTIFIED BY '{MYSQL_PASSWORD}'")
        cursor.execute("GRANT SELECT, PROCESS ON *.* TO monitor@'%'")
        cursor.execute("CREATE USER app@'%' IDENTIFIED BY 'app-pw-1'")
        cursor.execute("GRANT ALL ON shop.* TO app@'%'")
    yield server
    server.stop()


@dataclass
class World:
    ok: Any  # the app whose AWS_ENDPOINT_URL (with a password in it) reaches moto
    dead: Any  # the same settings and store, its endpoint URL (with a password) unreachable
    invalid: Any  # ... and an endpoint URL botocore refuses (its error quotes the URL)
    secrets: Secrets
    operator_token: str
    viewer_token: str
    tmp_path: Path
    run_ids: list[str] = field(default_factory=list)

    @property
    def services(self):
        return self.ok.server.extensions["slowquery"]


def _static_file(tmp_path: Path, mariadb) -> Path:
    path = tmp_path / "static.json"
    path.write_text(json.dumps([
        # the monitoring account from MYSQL_USER/MYSQL_PASSWORD: polls and EXPLAIN work
        {"instance_id": "shop-db", "host": "127.0.0.1", "port": mariadb.port,
         "engine": "mariadb", "tags": {"env": "prd", "real_time_slow_sql": "true"}},
        # its own password from an environment variable, and a wrong one: access denied
        {"instance_id": "wrongpw-db", "host": "127.0.0.1", "port": mariadb.port,
         "engine": "mariadb", "user": "monitor", "password_env": STATIC_PASSWORD_ENV,
         "tags": {"real_time_slow_sql": "true"}},
        # nothing listens: connection refused
        {"instance_id": "dead-db", "host": "127.0.0.1", "port": free_port(),
         "engine": "mysql", "tags": {"real_time_slow_sql": "true"}},
    ]))
    return path


def _build_world(tmp_path: Path, aws, mariadb, monkeypatch: pytest.MonkeyPatch,
                 database_url: str) -> World:
    from tests.test_collection import _seed_logs

    seed_rds(aws.url, REGION)  # with the fixture's plain credentials
    _seed_logs(aws.url)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN)
    monkeypatch.setenv(STATIC_PASSWORD_ENV, STATIC_PASSWORD)
    users, tokens = tmp_path / "users.json", tmp_path / "tokens.json"
    add_user(users, "olivia", OPERATOR_PASSWORD, "operator")
    add_user(users, "victor", VIEWER_PASSWORD, "viewer")
    operator_token = add_token(tokens, "ci", "operator")
    viewer_token = add_token(tokens, "grafana", "viewer")
    port = aws.url.rsplit(":", 1)[1]
    settings = Settings(
        database_url=database_url, scheduler_enabled=False, aws_region=REGION,
        aws_endpoint_url=f"http://leakuser:{URL_SECRET}@127.0.0.1:{port}",
        aws_timeout_seconds=3, aws_max_attempts=1, mysql_user="monitor",
        mysql_password=MYSQL_PASSWORD, static_instances_file=_static_file(tmp_path, mariadb),
        realtime_min_seconds=1.5, explain_timeout_seconds=3, auth_users_file=users,
        auth_tokens_file=tokens, secret_key=SECRET_KEY, max_request_bytes=64 * 1024)
    ok = create_app(settings)
    # Dash's page callbacks are registered process-wide, and the first app to answer any
    # request takes them all: the app the browser will use answers first.
    assert ok.server.test_client().get("/healthz").status_code == 200
    dead = create_app(replace(
        settings, aws_endpoint_url=f"http://leakuser:{DEAD_URL_SECRET}@127.0.0.1:{free_port()}"))
    invalid = create_app(replace(
        settings, aws_endpoint_url=f"http://leakuser:{INVALID_URL_SECRET}@-bad-.example:4566"))
    secrets = Secrets(
        {"MYSQL_PASSWORD": MYSQL_PASSWORD, "SECRET_KEY": SECRET_KEY,
         "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "AWS_SESSION_TOKEN": AWS_SESSION_TOKEN,
         "AWS_ENDPOINT_URL password": URL_SECRET,
         "unreachable AWS_ENDPOINT_URL password": DEAD_URL_SECRET,
         "invalid AWS_ENDPOINT_URL password": INVALID_URL_SECRET,
         "operator password": OPERATOR_PASSWORD, "viewer password": VIEWER_PASSWORD,
         "wrong password": WRONG_PASSWORD, "invalid token": BAD_TOKEN,
         "static instance password": STATIC_PASSWORD, "operator token": operator_token,
         "viewer token": viewer_token},
        {"operator basic auth": ("olivia", OPERATOR_PASSWORD),
         "viewer basic auth": ("victor", VIEWER_PASSWORD)})
    return World(ok, dead, invalid, secrets, operator_token, viewer_token, tmp_path)


def _run_as_app(mariadb, *statements: str) -> threading.Thread:
    import pymysql

    def run() -> None:
        conn = pymysql.connect(host="127.0.0.1", port=mariadb.port, user="app",
                               password="app-pw-1", database="shop", autocommit=True)
        with conn, conn.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _exercise(world: World, mariadb) -> None:
    """Inventory (good and failing endpoint), a good and a failing collection, real-time
    polls that succeed, are refused (wrong password) and cannot connect, EXPLAIN that
    succeeds and fails."""
    ok, dead = world.services, world.dead.server.extensions["slowquery"]
    assert not ok.inventory.refresh()["errors"]
    good = ok.collection.start({"month": OCTOBER})  # both run while real-time polls
    failing = dead.collection.start({"month": "2026-09"})
    world.run_ids += [good["collection_id"], failing["collection_id"]]

    threads = [_run_as_app(mariadb, "SELECT id, total FROM orders WHERE SLEEP(0.4) = 0 "
                                    "AND id <= 10 /* leak check */"),
               _run_as_app(mariadb, "CREATE TEMPORARY TABLE scratch (a INT)",
                           "INSERT INTO scratch VALUES (1)",
                           "SELECT SLEEP(4) FROM scratch")]  # EXPLAIN cannot see it
    # both statements run about 4 s, so they stay above realtime_min_seconds (1.5 s) for
    # 2.5 s: room for several polls on a loaded machine, where each poll's store writes (to
    # the MongoDB server in this test) slow the rounds down.
    # As the scheduler polls: an instance whose connect hangs (the fleet's RDS names do not
    # resolve here, which can take seconds) is skipped while busy instead of holding up the
    # round, so the short statements on shop-db are still seen while they run
    while any(t.is_alive() for t in threads):
        ok.realtime.poll_once(wait_for_all=False)
        time.sleep(0.4)
    ok.realtime.poll_once()
    deadline = time.monotonic() + 20
    captures: list[dict] = []
    while time.monotonic() < deadline:
        captures = [c for c in ok.store.captures.recent() if c["instance_id"] == "shop-db"]
        if len(captures) == 2 and all(c.get("plan_id") or c.get("plan_error")
                                      for c in captures):
            break
        time.sleep(0.2)
    assert sorted(bool(c.get("plan_id")) for c in captures) == [False, True], captures
    ok.collection.wait(good["collection_id"], timeout=60)
    dead.collection.wait(failing["collection_id"], timeout=60)
    errors = {s["instance_id"]: s["last_error"] for s in ok.realtime.status()["instances"]}
    assert "Access denied" in errors["wrongpw-db"], errors
    assert errors["dead-db"] and errors["orders-prd-1"], errors
    # the failing endpoints' refreshes last, so an error is the stored inventory status
    assert dead.inventory.refresh()["errors"]
    client = world.invalid.server.test_client()  # through the API: it may raise, not answer
    operator = {"Authorization": f"Bearer {world.operator_token}"}
    client.post("/api/instances/refresh", headers=operator)
    started = client.post("/cloudwatch/run", headers=operator, json={"month": "2026-08"})
    if started.status_code == 202:
        world.run_ids.append(started.get_json()["collection_id"])
        world.invalid.server.extensions["slowquery"].collection.wait(
            world.run_ids[-1], timeout=60)


# ---- every route ------------------------------------------------------------------------------
def _ids(world: World) -> dict[str, list[str]]:
    store = world.services.store
    digest = store.digests.page(period=OCTOBER, limit=1)[0][0]
    plan = store.plans.list()[0]
    return {
        "collection_id": [*world.run_ids, "nope", "<script>x</script>"],
        "instance_id": [digest["instance_id"], "nope"],
        "period": [digest["period"]], "query_id": [digest["query_id"], "0xNOPE"],
        "plan_id": [plan["plan_id"], "nope|x|y"],
        "path": ["digests", "no-such-page"], "_rest": ["nope", "instances/x/y"],
        "filename": ["app.css", "nope.css"], "package_name": ["dash", "nope"],
        "fingerprinted_path": ["dash_renderer/nope.js"],
    }


def _paths(rule, ids: dict[str, list[str]]) -> list[str]:
    """The rule with each argument set to each of its values (the others to their first)."""
    arguments = sorted(rule.arguments)
    if not arguments:
        return [rule.rule]
    out = []
    for varying in arguments:
        for value in ids.get(varying, ["x"]):
            path = rule.rule
            for name in arguments:
                chosen = value if name == varying else ids.get(name, ["x"])[0]
                converter = next(part for part in path.split("<")[1:]
                                 if part.split(">")[0].split(":")[-1] == name)
                path = path.replace(f"<{converter.split('>')[0]}>",
                                    quote(chosen, safe="/|" if "path:" in converter else "|"))
            out.append(path)
    return sorted(set(out))


QUERIES = ["", f"?limit=5&instance_id=orders-prd-1&month={OCTOBER}&engine=mysql",
           "?limit=x&offset=-1", "?sort=fingerprint", "?sort=-count&q=orders&query_id=0x1",
           "?literals=true", "?literals=maybe", "?since=not-a-date", "?colour=blue",
           "?instance_id=%3Cscript%3E&limit=99999999999999999999"]


def _bodies(path: str, plan_text: str) -> list[tuple[str, dict[str, Any]]]:
    good: dict[str, Any] = {
        "/cloudwatch/run": {"month": OCTOBER, "instance_ids": ["orders-prd-1"]},
        "/api/realtime/start": {"instance_id": "shop-db"},
        "/api/realtime/stop": {"instance_id": "shop-db"},
        "/api/plans/parse": {"text": plan_text, "format": "auto"},
    }
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("empty", {}), ("{}", {"json": {}}),
        ("unknown", {"json": {"instance_id": "nope", "colour": "blue", "month": "2026-13"}}),
        ("text", {"data": "month=2026-10", "content_type": "text/plain"}),
        ("form", {"data": {"username": "olivia", "password": "a-form-field-value"}}),
        ("array", {"json": [1, 2]}), ("not json", {"data": "{",
                                                   "content_type": "application/json"}),
        ("deep", {"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}),
        ("huge", {"json": {"text": "x" * 70_000}}),
        ("bad plan", {"json": {"text": "{\"query_block\": 1", "format": "json"}}),
        ("foreign origin", {"json": {}, "headers": {"Origin": "https://evil.example"}}),
    ]
    if path in good:
        bodies.append(("good", {"json": good[path]}))
    return bodies


API_PREFIXES = ("/api/", "/cloudwatch/", "/healthz", "/ws/")
QUERIED = ("viewer token", "operator session")  # a token and a session, a viewer and an operator


def _requests(path: str, method: str, who: str, plan_text: str,
              sign_ins: bool) -> list[tuple[str, tuple[str, dict[str, Any]]]]:
    """(query string, (body name, request arguments)) to send: every query string and body
    where they reach a view (API routes, signed in); a few elsewhere (the guard, a page or a
    static file answers the same whatever they hold)."""
    if method == "POST" and path == "/login":
        return [("", body) for body in _login_bodies(who)] if sign_ins else []
    if method == "GET":
        reached = path.startswith(API_PREFIXES) and who in QUERIED
        return [(q, ("", {})) for q in (QUERIES if reached else QUERIES[:1] + QUERIES[-2:])]
    if method == "POST":
        bodies = _bodies(path, plan_text)
        if who != "operator token":  # every body once per route, as an operator
            bodies = bodies[:2] + [b for b in bodies if b[0] in ("good", "form")]
        return [("", body) for body in bodies]
    return [("", ("", {}))]


def _login_bodies(who: str) -> list[tuple[str, dict[str, Any]]]:
    """Sign-in failures are limited per address (20 in 15 minutes, in the shared store), so
    only the anonymous caller of one app tries a wrong password, an empty form and a
    locked-out user (the browser still has to sign in afterwards)."""
    if who != "anonymous":
        return []
    wrong = {"username": "olivia", "password": WRONG_PASSWORD, "next": "/digests"}
    locked = {"username": "mallory", "password": WRONG_PASSWORD}
    return [("wrong password", {"data": wrong}), ("empty form", {"data": {}}),
            *[("locked out", {"data": locked})] * 6]


def _sign_in(client: FlaskClient, user: str, password: str) -> None:
    response = client.post("/login", data={"username": user, "password": password,
                                           "next": "/"})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def _identities(world: World, app, only: tuple[str, ...] | None = None,
                ) -> list[tuple[str, FlaskClient, dict[str, str]]]:
    anonymous = app.server.test_client()
    operator, viewer = app.server.test_client(), app.server.test_client()
    _sign_in(operator, "olivia", OPERATOR_PASSWORD)
    _sign_in(viewer, "victor", VIEWER_PASSWORD)
    basic = base64.b64encode(f"olivia:{OPERATOR_PASSWORD}".encode()).decode()
    everyone = [
        ("anonymous", anonymous, {}),
        ("invalid token", anonymous, {"Authorization": f"Bearer {BAD_TOKEN}"}),
        ("basic auth", anonymous, {"Authorization": f"Basic {basic}"}),
        ("viewer token", anonymous, {"Authorization": f"Bearer {world.viewer_token}"}),
        ("operator token", anonymous, {"Authorization": f"Bearer {world.operator_token}"}),
        ("viewer session", viewer, {}),
        ("operator session", operator, {}),
    ]
    return [i for i in everyone if only is None or i[0] in only]


def _record(evidence: Evidence, label: str, response, app) -> None:
    evidence.add(f"response {label}",
                 f"{response.status}\n{response.headers}\n".encode() + response.get_data())
    for cookie in response.headers.getlist("Set-Cookie"):
        value = cookie.split(";", 1)[0].split("=", 1)[1]
        if value and cookie.startswith("sqd_session="):
            serializer = app.server.session_interface.get_signing_serializer(app.server)
            evidence.add(f"session cookie {label}", serializer.loads(value))


def _sweep(world: World, app, name: str, evidence: Evidence,
           only: tuple[str, ...] | None = None) -> dict[str, int]:
    """Every route × arguments × query strings or bodies × identities; returns status counts."""
    ids = _ids(world)
    plan_text = world.services.store.plans.list()[0]["formats"]["json"]["text"]
    rules = sorted(app.server.url_map.iter_rules(),
                   key=lambda r: (r.rule in ("/logout",), r.rule))  # signing out last
    statuses: dict[str, int] = {}
    started: list[str] = []
    for who, client, headers in _identities(world, app, only):
        for rule in rules:
            for path in _paths(rule, ids):
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    for query, (body_name, kwargs) in _requests(
                            path, method, who, plan_text, sign_ins=name == "good endpoint"):
                        kwargs = dict(kwargs)
                        sent = {**headers, **kwargs.pop("headers", {})}
                        response = client.open(path + query, method=method, headers=sent,
                                               **kwargs)
                        label = f"{name} {who} {method} {path}{query} {body_name}".strip()
                        _record(evidence, label, response, app)
                        statuses[str(response.status_code)] = statuses.get(
                            str(response.status_code), 0) + 1
                        if response.status_code == 202 and path == "/cloudwatch/run":
                            started.append(response.get_json()["collection_id"])
    for run_id in started:  # runs go on in the background meanwhile (and 409 or 429 more)
        app.server.extensions["slowquery"].collection.wait(run_id, timeout=60)
    return statuses


# ---- sources other than HTTP answers ----------------------------------------------------------
def _websocket(world: World, base_url: str, evidence: Evidence) -> None:
    import websocket

    ws_url = base_url.replace("http://", "ws://")
    for run_id in [*world.run_ids, "nope"]:
        for token in (world.viewer_token, BAD_TOKEN):
            try:
                ws = websocket.create_connection(
                    f"{ws_url}/ws/collection/{run_id}", timeout=10, origin=base_url,
                    header=[f"Authorization: Bearer {token}"])
            except websocket.WebSocketBadStatusException as exc:
                evidence.add(f"websocket {run_id} refused", f"{exc} {exc.resp_body!r}")
                continue
            messages = []
            try:
                while True:
                    message = ws.recv()
                    if not message:
                        break
                    messages.append(message)
            except (websocket.WebSocketConnectionClosedException, TimeoutError,
                    websocket.WebSocketTimeoutException):
                pass
            ws.close()
            evidence.add(f"websocket {run_id}", "\n".join(messages))


@pytest.fixture
def every_log_record() -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger at DEBUG (the app's, Flask's, werkzeug's, pymysql's...).

    AWS's client libraries are kept at INFO: at DEBUG botocore prints every request's URL
    (with AWS_ENDPOINT_URL's credentials) and signed headers (with AWS_SESSION_TOKEN) by
    design; the app never turns their DEBUG on (app.py logs at INFO). So is pymongo, whose
    DEBUG records are every command (the database dump below reads the same documents)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet = {name: logging.getLogger(name).level
             for name in ("selenium", "websocket",  # the test's own drivers
                          "botocore", "boto3", "s3transfer", "urllib3",
                          "pymongo")}  # its DEBUG is every command: the dump covers it
    for name in quiet:
        logging.getLogger(name).setLevel(logging.INFO)
    yield records
    root.removeHandler(handler)
    root.setLevel(previous)
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


def _add_logs(evidence: Evidence, records: list[logging.LogRecord]) -> None:
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    for record in records:
        if record.name.startswith(("selenium", "websocket")):
            continue  # the test's browser driver and WebSocket client, not the app
        evidence.add(f"log {record.levelname} {record.name}", formatter.format(record))


def _add_sqlite_files(evidence: Evidence, tmp_path: Path) -> None:
    files = sorted(tmp_path.glob("app.db*"))
    assert files, "no SQLite file"
    for path in files:
        evidence.add(f"database file {path.name}", path.read_bytes())


def _add_mongo(evidence: Evidence, url: str) -> None:
    import pymongo
    from bson import json_util

    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        database = client.get_default_database()
        for name in database.list_collection_names():
            for doc in database[name].find():
                evidence.add(f"mongodb {name}", json_util.dumps(doc))
    finally:
        client.close()


def _assert_no_leaks(evidence: Evidence, secrets: Secrets) -> None:
    hits = evidence.hits(secrets)
    kinds: dict[str, int] = {}
    for hit in hits:  # "response good endpoint anonymous GET /healthz: ..." -> "response"...
        where, names = hit.split(": ", 1)[0], hit.split(": ", 1)[1].split(" … ")[0]
        paths = [re.sub(r"[0-9a-f]{32}", "<id>", p.split("?")[0])
                 for p in where.split() if p.startswith("/")]
        kind = " ".join(where.split()[:1] + paths[:1])
        kinds[f"{kind} <- {names}"] = kinds.get(f"{kind} <- {names}", 0) + 1
    summary = "\n".join(f"  {count:4} × {kind}" for kind, count in sorted(kinds.items()))
    assert not hits, (f"{len(hits)} leak(s), by where and what:\n{summary}\nfirst ones:\n"
                      + "\n".join(hits[:15]))


# ---- the browser ------------------------------------------------------------------------------
def _wait(predicate: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - a DOM mid-render; try again
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _snapshot(dash_duo, label: str, evidence: Evidence) -> None:
    """The DOM, Dash's client state (every prop and Store the server sent, grid rows
    included), the cookies and the console, as they are now."""
    driver = dash_duo.driver
    evidence.add(f"page {label}", driver.page_source)
    state = driver.execute_script(
        "try { var s = window.store && window.store.getState();"
        " return s ? JSON.stringify({layout: s.layout, history: s.history}) : null; }"
        " catch (e) { return 'unreadable: ' + e; }")
    evidence.add(f"dash state {label}", state)
    evidence.add(f"cookies {label}", driver.get_cookies())
    evidence.add(f"console {label}", driver.get_log("browser"))


def _click(dash_duo, css: str) -> None:
    element = _wait(lambda: dash_duo.driver.find_element(By.CSS_SELECTOR, css), what=css)
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def _browse(dash_duo, world: World, evidence: Evidence) -> None:
    from tests.test_plans_page import _cy, _open_tab

    base = dash_duo.server.url
    driver = dash_duo.driver
    driver.get(f"{base}/digests")  # signed out: the sign-in form
    _wait(lambda: driver.find_element(By.ID, "login-submit"), what="the sign-in form")
    for password in (WRONG_PASSWORD, OPERATOR_PASSWORD):
        driver.find_element(By.ID, "username").clear()
        driver.find_element(By.ID, "username").send_keys("olivia")
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "login-submit").click()
        if password == WRONG_PASSWORD:
            _wait(lambda: "Wrong user name" in driver.page_source, what="the refusal")
            _snapshot(dash_duo, "refused sign-in", evidence)
    dash_duo.server_url = f"{base}/digests"  # now Dash's page loads (and is waited for)
    dash_duo.wait_for_element("#navbar-signout", timeout=15)

    # Digests: the grid, a digest's window, its literals. October is chosen: a run started
    # with no month collected the month before today, which may hold other statements
    def october_chosen() -> bool:
        if "October 2026" not in driver.find_element(By.ID, "digests-period").text:
            dash_duo.select_dcc_dropdown("#digests-period", value="October 2026")
        return "October 2026" in driver.find_element(By.ID, "digests-period").text

    _wait(october_chosen, what="October chosen")
    _wait(lambda: driver.find_element(
        By.CSS_SELECTOR, "#digests-grid .ag-center-cols-container .ag-row[row-index='0'] "
                         "[col-id='fingerprint']").text, what="digest rows")
    _click(dash_duo, "#digests-grid .ag-center-cols-container .ag-row[row-index='0'] "
                     "[col-id='fingerprint']")
    dash_duo.wait_for_element("#digest-example-0", timeout=15)
    _click(dash_duo, "#digest-show-literals")
    _snapshot(dash_duo, "digests with a digest open", evidence)

    dash_duo.wait_for_page(f"{base}/")
    dash_duo.wait_for_contains_text("#overview-content", "discovery failed", timeout=15)
    _snapshot(dash_duo, "overview", evidence)

    dash_duo.wait_for_page(f"{base}/instances")
    dash_duo.wait_for_contains_text("#instances-grid", "shop-db", timeout=15)
    _snapshot(dash_duo, "instances", evidence)
    _click(dash_duo, "#instances-refresh")
    dash_duo.wait_for_element("#instances-refresh-result", timeout=20)
    _snapshot(dash_duo, "instances refreshed", evidence)

    dash_duo.wait_for_page(f"{base}/collection")
    _wait(lambda: len(driver.find_elements(
        By.CSS_SELECTOR, "#collection-history .ag-center-cols-container .ag-row")) >= 3,
        what="the run history")
    for row in range(3):  # replay the newest runs' logs over the WebSocket (good and failed)
        _click(dash_duo, f"#collection-history .ag-center-cols-container "
                         f".ag-row[row-index='{row}'] [col-id='status']")
        _wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".collection-log-line"),
              what="the run's log lines")
        time.sleep(0.5)
        _snapshot(dash_duo, f"collection run {row}", evidence)
    _click(dash_duo, "#collection-start")
    dash_duo.wait_for_element("#collection-start-result", timeout=20)
    _snapshot(dash_duo, "collection started", evidence)

    dash_duo.wait_for_page(f"{base}/realtime")
    dash_duo.wait_for_contains_text("#realtime-instance-switches", "Access denied", timeout=15)
    _snapshot(dash_duo, "realtime", evidence)
    for row in range(2):
        _click(dash_duo, f"#realtime-grid .ag-row[row-index='{row}'] [col-id='sql']")
        dash_duo.wait_for_element("#realtime-plan", timeout=15)
        _click(dash_duo, "label[for='realtime-show-literals']")
        time.sleep(0.5)
        _snapshot(dash_duo, f"realtime capture {row}", evidence)
        _click(dash_duo, "#realtime-modal .btn-close")
        dash_duo.wait_for_no_elements("#realtime-modal .modal-body", timeout=5)

    plan_id = world.services.store.plans.list()[0]["plan_id"]
    dash_duo.wait_for_page(f"{base}/plans?plan_id={quote(plan_id, safe='')}")
    dash_duo.wait_for_element("#plan-visual .annotation-text", timeout=15)
    _open_tab(dash_duo, "Graph")
    node = _wait(lambda: _cy(dash_duo, "var n = cy.nodes(); return n.length && n[0].id();"),
                 what="graph nodes")
    _cy(dash_duo, f"cy.getElementById('{node}').emit('tap'); return true;")
    dash_duo.wait_for_contains_text("#plan-node-details", "Operation", timeout=10)
    _open_tab(dash_duo, "Raw")
    _click(dash_duo, "label[for='plan-show-literals']")
    dash_duo.wait_for_contains_text("#plan-raw-json", "query_block", timeout=10)
    _snapshot(dash_duo, "plan", evidence)
    dash_duo.find_element("#plan-paste-text").send_keys("{ not a plan")
    _click(dash_duo, "#plan-paste-show")
    dash_duo.wait_for_contains_text("#plan-paste-error", "Could not read", timeout=10)
    _snapshot(dash_duo, "plan paste error", evidence)

    dash_duo.wait_for_page(f"{base}/no-such-page")
    time.sleep(1)
    _snapshot(dash_duo, "unknown page", evidence)
    _click(dash_duo, "#navbar-signout")
    _wait(lambda: driver.find_element(By.ID, "login-submit"), what="signed out")
    _snapshot(dash_duo, "signed out", evidence)


def _apps_in_order(world: World, only: tuple[str, ...] | None = None,
                   ) -> list[tuple[str, Any, tuple[str, ...] | None]]:
    """(name, app, identities) to sweep. The failing endpoints' answers come last, so one
    of their errors is the stored inventory status the pages show."""
    few = ("anonymous", "viewer token", "operator token")
    return [("good endpoint", world.ok, only), ("dead endpoint", world.dead, only),
            ("invalid endpoint", world.invalid, few if only is None else only)]


def _finish(world: World) -> None:
    """Let runs started from the pages end, and stop the real-time pools."""
    store = world.services.store
    _wait(lambda: not [r for r in store.runs.recent(100)
                       if r.get("status") in ("started", "in_progress")],
          timeout=60, what="collection runs to end")
    for app in (world.ok, world.dead, world.invalid):
        app.server.extensions["slowquery"].realtime.shutdown()


# ---- the tests ---------------------------------------------------------------------------------
@pytest.mark.browser
def test_no_secret_reaches_a_page_an_answer_a_log_or_the_sqlite_file(
        dash_duo, aws, mariadb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        every_log_record: list[logging.LogRecord]) -> None:
    world = _build_world(tmp_path, aws, mariadb, monkeypatch,
                         f"sqlite:///{tmp_path / 'app.db'}")
    evidence = Evidence()
    _exercise(world, mariadb)
    statuses: dict[str, int] = {}
    for name, app, only in _apps_in_order(world):
        for code, count in _sweep(world, app, name, evidence, only).items():
            statuses[code] = statuses.get(code, 0) + count
    world.services.realtime.set_enabled(True)
    dash_duo.start_server(world.ok, navigate=False)  # "/" is the sign-in form for now
    _websocket(world, dash_duo.server.url, evidence)
    _browse(dash_duo, world, evidence)
    _finish(world)
    _add_logs(evidence, every_log_record)
    _add_sqlite_files(evidence, tmp_path)

    # positive controls: each source was really captured and holds what it should
    for code in ("200", "302", "400", "401", "404", "415", "429", "502"):
        assert statuses.get(code), (code, statuses)
    assert evidence.contains("response good endpoint operator token GET /api/digests",
                             "orders-prd-1")
    assert evidence.contains("page digests", "select * from orders")
    assert evidence.contains("dash state plan", "query_block")
    assert evidence.contains("websocket", "log group /aws/rds/instance/legacy-maria")
    assert evidence.contains("log WARNING slowquery.auth", "failed sign-in for 'olivia'")
    assert evidence.contains("log", "Access denied for user 'monitor'")
    assert evidence.contains("database file", "shop-db")
    assert evidence.contains("session cookie", "olivia")  # decoded with SECRET_KEY
    assert evidence.contains("console refused sign-in", "401")
    assert evidence.contains("cookies", "sqd_session")
    _assert_no_leaks(evidence, world.secrets)


def test_no_secret_reaches_an_answer_a_log_or_mongodb(
        aws, mariadb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mongo_url: str,
        nx_server, every_log_record: list[logging.LogRecord]) -> None:
    world = _build_world(tmp_path, aws, mariadb, monkeypatch, mongo_url)
    evidence = Evidence()
    _exercise(world, mariadb)
    # the answers are the SQLite test's; here they are mostly for what they make the app store
    for name, app in (("good endpoint", world.ok), ("dead endpoint", world.dead)):
        _sweep(world, app, name, evidence, ("operator token",))
    with serving(world.ok.server) as port:
        _websocket(world, f"http://127.0.0.1:{port}", evidence)
    _finish(world)
    _add_logs(evidence, every_log_record)
    _add_mongo(evidence, mongo_url)

    assert evidence.contains("mongodb captures", "leak check")
    assert evidence.contains("mongodb flags", '"ok": false')  # a failed inventory source
    assert evidence.contains("websocket", "legacy-maria")
    _assert_no_leaks(evidence, world.secrets)
