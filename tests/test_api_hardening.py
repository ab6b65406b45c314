"""Every API route against bad input: a 4xx with a short, clear JSON message, never a 500.

`CASES` is one table of (method, path, body/headers, expected status, message fragment); each
case runs against the real app (`create_app` + Flask's test client) on the embedded store,
and the cases that reach the store run on MongoDB too. More parameters (a viewer, an
operator, no credentials, another origin) can be added to the table as columns.

Below the table: literals are masked in every answer unless asked for (on both stores, with
documents written through the store), the request-size limit holds for chunked bodies on a
real server, deep plans are refused in every format, and secrets inside configured URLs are
never echoed.
"""

from __future__ import annotations

import http.client
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder

from analysis.findings import find_problems
from analysis.plan import parse_plan
from app import create_app
from settings import Settings
from store import open_store
from tests.servers import NxServer, free_port, serving

MAX_MESSAGE = 300
LIMIT = 2 * 1024 * 1024  # the default MAX_REQUEST_BYTES


@dataclass(frozen=True)
class Case:
    """One request and what must come back."""

    name: str
    method: str
    path: str
    status: int
    fragment: str
    json: Any = None
    data: str | bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stores: tuple[str, ...] = ("sqlite",)


BOTH = ("sqlite", "mongodb")
HUGE = "x" * 1_000_000  # a value that must never come back whole in a message
DEEP_TREE = "".join("    " * i + "-> Filter: (t.a = 1)\n" for i in range(500))
DEEP_JSON_TEXT = '{"query_block": ' + '{"a": ' * 300 + "1" + "}" * 300 + "}"
# each query_block inside a query_block is one more plan node: 150 nodes, 151 JSON levels
DEEP_PLAN_OBJECT: dict = {"select_id": 1}
for _ in range(150):
    DEEP_PLAN_OBJECT = {"query_block": DEEP_PLAN_OBJECT}


def _deep_body(levels: int) -> str:
    return '{"a": ' + "[" * levels + "]" * levels + "}"


CASES: list[Case] = [
    # ---- unknown paths and wrong methods ----------------------------------------------------
    Case("api-unknown", "GET", "/api/nothing", 404, "no such API endpoint"),
    Case("api-bare", "GET", "/api", 404, "no such API endpoint"),
    Case("api-long-path", "GET", "/api/" + "y" * 5000, 404, "no such API endpoint"),
    Case("cw-trailing-slash", "GET", "/cloudwatch/runs/", 404, "no such API endpoint"),
    Case("cw-unknown", "POST", "/cloudwatch/nothing", 404, "no such API endpoint"),
    Case("cw-bare", "GET", "/cloudwatch", 404, "no such API endpoint"),
    Case("cw-run-get", "GET", "/cloudwatch/run", 405, "use POST"),
    Case("cw-runs-delete", "DELETE", "/cloudwatch/runs", 405, "use GET"),
    Case("digests-post", "POST", "/api/digests", 405, "use GET"),
    Case("plans-delete", "DELETE", "/api/plans/x", 405, "use GET"),
    Case("refresh-get", "GET", "/api/instances/refresh", 405, "use POST"),
    Case("ws-over-http", "GET", "/ws/collection/abc", 400, "is a WebSocket endpoint"),
    Case("ws-post", "POST", "/ws/collection/abc", 400, "is a WebSocket endpoint"),
    Case("ws-unknown", "GET", "/ws/nothing", 404, "no such API endpoint"),
    Case("ws-bare", "GET", "/ws", 404, "no such API endpoint"),
    Case("ws-handshake-unknown", "GET", "/ws/nothing", 404, "no such WebSocket endpoint",
         headers={"Upgrade": "websocket", "Connection": "Upgrade"}),
    Case("ws-handshake-to-http", "GET", "/api/digests", 400, "is not a WebSocket endpoint",
         headers={"Upgrade": "websocket", "Connection": "Upgrade"}),
    # ---- unknown or repeated query parameters, on every route -------------------------------
    Case("healthz-param", "GET", "/healthz?verbose=1", 400, "unknown query parameter 'verbose'"),
    Case("instances-param", "GET", "/api/instances?engin=mysql", 400,
         "accepts: engine"),
    Case("refresh-param", "POST", "/api/instances/refresh?now=1", 400,
         "unknown query parameter 'now'"),
    Case("run-param", "POST", "/cloudwatch/run?month=2026-01", 400,
         "unknown query parameter 'month'"),
    Case("runs-param", "GET", "/cloudwatch/runs?limt=5", 400, "accepts: limit"),
    Case("run-one-param", "GET", "/cloudwatch/runs/abc?literals=true", 400,
         "unknown query parameter 'literals'"),
    Case("digests-param", "GET", "/api/digests?limt=5", 400,
         "accepts: group, instance_id, limit, literals, month, offset, period, q, sort"),
    Case("digest-param", "GET", "/api/digests/i/2026-10/q?x=1", 400, "accepts: literals"),
    Case("fleet-no-month", "GET", "/api/digests?group=fleet", 400, "needs a month"),
    Case("fleet-group", "GET", "/api/digests?group=cluster", 400,
         "group must be one of fleet, instance"),
    Case("start-param", "POST", "/api/realtime/start?instance_id=x", 400,
         "unknown query parameter 'instance_id'"),
    Case("stop-param", "POST", "/api/realtime/stop?x=1", 400, "unknown query parameter"),
    Case("status-param", "GET", "/api/realtime/status?x=1", 400, "unknown query parameter"),
    Case("queries-param", "GET", "/api/realtime/queries?snce=2026-01-01", 400,
         "accepts: instance_id, limit, literals, since"),
    Case("plans-param", "GET", "/api/plans?plan=1", 400,
         "accepts: instance_id, limit, literals, query_id"),
    Case("plan-param", "GET", "/api/plans/a|b|c?x=1", 400, "accepts: literals"),
    Case("parse-param", "POST", "/api/plans/parse?format=tree", 400, "unknown query parameter"),
    Case("huge-param-name", "GET", "/api/digests?" + "p" * 10_000 + "=1", 400,
         "unknown query parameter"),
    Case("repeated-limit", "GET", "/api/digests?limit=1&limit=2", 400, "give it once"),
    # ---- bad values of documented parameters ------------------------------------------------
    Case("engine", "GET", "/api/instances?engine=oracle", 400, "engine must be one of"),
    Case("month-13", "GET", "/api/digests?month=2026-13", 400, "month must be a month YYYY-MM"),
    Case("month-text", "GET", "/api/digests?month=october", 400, "got 'october'"),
    Case("period-bad-date", "GET", "/api/digests?period=2026-02-01_2026-02-30", 400,
         "period must be a month YYYY-MM or days"),
    Case("period-backwards", "GET", "/api/digests?period=2026-02-10_2026-02-01", 400,
         "period must be"),
    Case("month-and-period", "GET", "/api/digests?month=2026-01&period=2026-02", 400,
         "not both"),
    Case("sort-unknown", "GET", "/api/digests?sort=fingerprint", 400, "sort must be one of"),
    Case("sort-double-dash", "GET", "/api/digests?sort=--count", 400, "sort must be one of"),
    Case("limit-zero", "GET", "/api/digests?limit=0", 400, "limit must be from 1 to 500"),
    Case("limit-text", "GET", "/api/digests?limit=ten", 400, "limit must be a whole number"),
    Case("limit-huge", "GET", "/api/digests?limit=" + "9" * 5000, 400,
         "limit must be a whole number"),
    Case("offset-negative", "GET", "/api/digests?offset=-1", 400, "offset must be from 0"),
    Case("q-control", "GET", "/api/digests?q=a%00b", 400, "must not hold control characters",
         stores=BOTH),
    Case("q-too-long", "GET", "/api/digests?q=" + "a" * 1001, 400, "q is too long"),
    Case("literals-bad", "GET", "/api/digests?literals=maybe", 400,
         "literals must be true or false"),
    Case("literals-bad-one", "GET", "/api/plans/x?literals=2", 400,
         "literals must be true or false"),
    Case("since-word", "GET", "/api/realtime/queries?since=yesterday", 400,
         "since must be an ISO-8601 date or time"),
    Case("since-bad-month", "GET", "/api/realtime/queries?since=2026-13-01", 400,
         "since must be an ISO-8601"),
    Case("queries-limit", "GET", "/api/realtime/queries?limit=1001", 400,
         "limit must be from 1 to 1000"),
    Case("queries-instance-long", "GET", "/api/realtime/queries?instance_id=" + "i" * 300, 400,
         "instance_id is too long"),
    Case("plans-limit", "GET", "/api/plans?limit=x", 400, "limit must be a whole number"),
    Case("runs-limit", "GET", "/cloudwatch/runs?limit=501", 400, "limit must be from 1 to 500"),
    # ---- things that are not there ----------------------------------------------------------
    Case("run-missing", "GET", "/cloudwatch/runs/" + "r" * 3000, 404, "no collection run rrr",
         stores=BOTH),
    Case("digest-missing", "GET", "/api/digests/i/2026-10/q", 404, "no such digest",
         stores=BOTH),
    Case("plan-missing", "GET", "/api/plans/" + "p" * 3000, 404, "no such plan: ppp",
         stores=BOTH),
    # ---- request bodies ---------------------------------------------------------------------
    Case("run-invalid-json", "POST", "/cloudwatch/run", 400, "not valid JSON",
         data="{", content_type="application/json"),
    Case("run-array", "POST", "/cloudwatch/run", 400, "must be a JSON object",
         json=["month", "2026-01"]),
    Case("run-untyped", "POST", "/cloudwatch/run", 400, "Content-Type: application/json",
         data='{"month": "2026-01"}'),
    Case("run-xml", "POST", "/cloudwatch/run", 400, "Content-Type: application/json",
         data="<month/>", content_type="application/xml"),
    Case("run-not-utf8", "POST", "/cloudwatch/run", 400, "not UTF-8",
         data=b'{"month": "\xff"}', content_type="application/json"),
    Case("run-nan", "POST", "/cloudwatch/run", 400, "NaN is not a JSON number",
         data='{"month": NaN}', content_type="application/json"),
    Case("run-deep", "POST", "/cloudwatch/run", 400, "nested too deeply (more than 32",
         data=_deep_body(100_000), content_type="application/json"),
    Case("run-huge-month", "POST", "/cloudwatch/run", 400, "month must look like YYYY-MM",
         json={"month": HUGE}),
    Case("run-huge-date", "POST", "/cloudwatch/run", 400, "start_date must be a date",
         json={"start_date": HUGE, "end_date": "2026-01-02"}),
    Case("run-unknown-field", "POST", "/cloudwatch/run", 400, "unknown field",
         json={HUGE: 1}),
    Case("run-too-big", "POST", "/cloudwatch/run", 413,
         f"the request body is larger than {LIMIT} bytes",
         data='{"month": "' + "x" * LIMIT + '"}', content_type="application/json"),
    Case("start-type", "POST", "/api/realtime/start", 400, "instance_id must be a string",
         json={"instance_id": 5}),
    Case("start-unknown", "POST", "/api/realtime/start", 404, "unknown instance_id",
         json={"instance_id": HUGE}, stores=BOTH),
    Case("start-surrogate", "POST", "/api/realtime/start", 400, "lone UTF-16 surrogate",
         data='{"instance_id": "\\ud800"}', content_type="application/json", stores=BOTH),
    Case("start-field", "POST", "/api/realtime/start", 400, "may hold only instance_id",
         json={"instance": "x"}),
    Case("stop-deep", "POST", "/api/realtime/stop", 400, "nested too deeply",
         data=_deep_body(40), content_type="application/json"),
    Case("parse-empty", "POST", "/api/plans/parse", 400, "text must be the EXPLAIN output"),
    Case("parse-format", "POST", "/api/plans/parse", 400, "format must be one of",
         json={"text": "-> x", "format": HUGE}),
    Case("parse-field", "POST", "/api/plans/parse", 400, "unknown field",
         json={"txt": "-> x"}),
    Case("parse-invalid-json", "POST", "/api/plans/parse", 400, "not valid JSON",
         data='{"text": ', content_type="application/json"),
    Case("parse-deep-tree", "POST", "/api/plans/parse", 400,
         "the plan is nested too deeply (more than 100 levels",
         json={"text": DEEP_TREE, "format": "tree"}),
    Case("parse-deep-tree-auto", "POST", "/api/plans/parse", 400, "nested too deeply",
         json={"text": DEEP_TREE}),
    Case("parse-deep-json-text", "POST", "/api/plans/parse", 400,
         "EXPLAIN JSON is nested too deeply", json={"text": DEEP_JSON_TEXT}),
    Case("parse-deep-object", "POST", "/api/plans/parse", 400,
         "the plan is nested too deeply", json={"text": DEEP_PLAN_OBJECT}),
    Case("parse-deeper-object", "POST", "/api/plans/parse", 400, "nested too deeply",
         data='{"text": ' + _deep_body(5000) + "}", content_type="application/json"),
    Case("parse-bad-number", "POST", "/api/plans/parse", 400, "expected a number",
         json={"text": {"query_block": {"select_id": 1, "table": {
             "table_name": "t", "access_type": "ALL", "rows": HUGE}}}}),
    Case("parse-bad-line", "POST", "/api/plans/parse", 400, "expected '-> <operation>'",
         json={"text": "-> Table scan on t\n" + HUGE, "format": "tree"}),
]


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory,
            nx_server: NxServer) -> dict[str, FlaskClient]:
    """One app per store for the whole table (the table only reads)."""
    base = Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('hard')}/app.db",
                    scheduler_enabled=False)
    return {"sqlite": create_app(base).server.test_client(),
            "mongodb": create_app(replace(base, database_url=nx_server.url("hardening")))
            .server.test_client()}


def send(client: FlaskClient, case: Case) -> Any:
    """The case's request through the test client."""
    kwargs: dict[str, Any] = {"headers": case.headers}
    if case.json is not None:
        kwargs["json"] = case.json
    elif case.data is not None:
        kwargs["data"] = case.data
        if case.content_type:
            kwargs["content_type"] = case.content_type
    return client.open(case.path, method=case.method, **kwargs)


def check_error(response: Any, status: int, fragment: str) -> str:
    """The status, a JSON body `{"error": ...}` holding `fragment`, short; the message."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    message = response.get_json()["error"]
    assert fragment in message
    assert len(message) < MAX_MESSAGE, message
    return message


@pytest.mark.parametrize(("case", "store"),
                         [(c, s) for c in CASES for s in c.stores],
                         ids=[f"{c.name}-{s}" for c in CASES for s in c.stores])
def test_bad_input_gets_a_short_clear_error(clients: dict[str, FlaskClient], case: Case,
                                            store: str) -> None:
    message = check_error(send(clients[store], case), case.status, case.fragment)
    assert "x" * 120 not in message and "y" * 120 not in message


def test_good_input_of_the_same_routes_still_works(clients: dict[str, FlaskClient]) -> None:
    """The documented parameters keep working (README's HTTP API table, plus literals)."""
    client = clients["sqlite"]
    for path in ("/healthz", "/api/instances?engine=mysql", "/cloudwatch/runs?limit=5",
                 "/api/digests?instance_id=a&month=2026-10&sort=count&limit=5&offset=0&q=x",
                 "/api/digests?period=2026-10-01_2026-10-15&sort=-query_time.p95",
                 "/api/digests?literals=true&sort=", "/api/realtime/status",
                 "/api/realtime/queries?instance_id=a&since=2026-03-01&limit=5",
                 "/api/realtime/queries?since=2026-03-01T10:00:00%2B02:00&literals=false",
                 "/api/realtime/queries?since=2026-03-01T10:00:00Z",
                 "/api/plans?instance_id=a&query_id=b&limit=3&literals=true",
                 # the README's forms, with every value empty
                 "/api/instances?engine=", "/api/plans?instance_id=&query_id=",
                 "/api/digests?instance_id=&month=&sort=&limit=&offset=&q=",
                 "/api/realtime/queries?instance_id=&since=&limit="):
        assert client.get(path).status_code == 200, path
    assert client.post("/api/realtime/stop").status_code == 200  # curl -X POST, no body
    assert client.post("/api/realtime/stop", json={}).status_code == 200
    parsed = client.post("/api/plans/parse", json={"text": "-> Table scan on t  (rows=5)"})
    assert parsed.status_code == 200


def test_since_compares_as_the_store_does(settings: Settings) -> None:
    """`since` in any ISO-8601 form is turned into the store's UTC text before comparing."""
    app = create_app(settings)
    store = app.server.extensions["slowquery"].store
    for n, start in enumerate(("2026-03-01T07:59:59.000000Z", "2026-03-01T08:00:01.000000Z")):
        store.captures.save({"id": f"c{n}", "instance_id": "db", "pid": n, "sql_text": "SELECT 1",
                             "start": start, "finished": True})
    client = app.server.test_client()
    for since in ("2026-03-01T10:00:00%2B02:00", "2026-03-01T08:00:00Z", "2026-03-01T08:00"):
        queries = client.get(f"/api/realtime/queries?since={since}").get_json()["queries"]
        assert [q["id"] for q in queries] == ["c1"], since


# ---- literals are masked on the way out, on both stores -------------------------------------
EMAIL = "alice@example.com"
PIN = "4242"
STATEMENT = f"SELECT * FROM users WHERE email = '{EMAIL}' AND pin = {PIN}"
PLAN_JSON = json.dumps({"query_block": {"select_id": 1, "table": {
    "table_name": "users", "access_type": "ALL", "rows": 5000, "filtered": 100,
    "attached_condition": f"users.email = '{EMAIL}' and users.pin = {PIN}"}}})
SYNTAX_ERROR = (f"1064: You have an error in your SQL syntax; check the manual near "
                f"'{EMAIL}' AND pin = {PIN}' at line 1")


def _seed_documents(url: str) -> str:
    """A digest, a capture and a plan holding literals, written through the repositories."""
    store = open_store(url)
    try:
        store.digests.replace_period("db-1", "2026-10", [{
            "query_id": "Q1", "fingerprint": "select * from users where email = ? and pin = ?",
            "count": 2, "query_time": {"sum": 3.0, "max": 2.0, "avg": 1.5},
            "examples": [{"sql": STATEMENT, "db": "shop", "time": "2026-10-02T10:00:00Z",
                          "query_time": 2.0, "truncated": False}],
            "hourly": {"2026-10-02T10": {"count": 2, "query_time": 3.0}}}])
        root = parse_plan(PLAN_JSON, "json")
        findings = [f.to_dict() for f in find_problems(root)]
        assert any(EMAIL in f["message"] for f in findings)  # the findings quote values
        plan_id = store.plans.record({
            "instance_id": "db-1", "query_id": "Q1", "fingerprint": "select ...",
            "plan_hash": "h1", "server_version": "10.11", "server_flavour": "mariadb",
            "converted_from": None, "explained_sql": STATEMENT, "db": "shop",
            "formats": {"json": {"supported": True, "text": PLAN_JSON, "error": None},
                        "tree": {"supported": True, "text": None, "error": SYNTAX_ERROR}},
            "root": root.to_dict(), "findings": findings, "parsed_from": "json",
            "parse_error": None}, "2026-10-02T10:00:00.000000Z")
        store.captures.save({
            "id": "db-1|7|1", "instance_id": "db-1", "pid": 7, "user": "app", "host": "h",
            "db": "shop", "sql_text": STATEMENT, "start": "2026-10-02T10:00:00.000000Z",
            "end": None, "duration": 3.0, "finished": False, "query_id": "Q1",
            "fingerprint": "select ...", "plan_id": plan_id, "plan_error": SYNTAX_ERROR})
    finally:
        store.close()
    return plan_id


@pytest.fixture(params=["sqlite", "mongodb"])
def seeded(request: pytest.FixtureRequest, settings: Settings,
           tmp_path: Path) -> tuple[FlaskClient, str, str]:
    url = (f"sqlite:///{tmp_path / 'masked.db'}" if request.param == "sqlite"
           else request.getfixturevalue("mongo_url"))
    plan_id = _seed_documents(url)
    return (create_app(replace(settings, database_url=url)).server.test_client(), plan_id,
            url)


def _answers(client: FlaskClient, plan_id: str, suffix: str) -> dict[str, str]:
    paths = {"digests": "/api/digests", "digest": "/api/digests/db-1/2026-10/Q1",
             "queries": "/api/realtime/queries", "plans": "/api/plans",
             "plan": f"/api/plans/{plan_id}"}
    answers = {}
    for name, path in paths.items():
        joiner = "&" if "?" in path else "?"
        response = client.get(path + (joiner + suffix if suffix else ""))
        assert response.status_code == 200, (name, response.get_data(as_text=True))
        answers[name] = response.get_data(as_text=True)
    return answers


def test_literals_are_masked_in_every_answer_unless_asked(seeded) -> None:
    client, plan_id, url = seeded
    for suffix in ("", "literals=false", "literals=0"):
        for name, text in _answers(client, plan_id, suffix).items():
            assert EMAIL not in text and PIN not in text, (name, suffix)
    masked = json.loads(_answers(client, plan_id, "")["plan"])
    assert masked["explained_sql"] == "SELECT * FROM users WHERE email = ? AND pin = ?"
    assert masked["formats"]["json"]["text"] is None and masked["formats"]["json"]["note"]
    assert "near ? at line 1" in masked["formats"]["tree"]["error"]
    revealed = _answers(client, plan_id, "literals=true")
    for text in revealed.values():
        assert EMAIL in text
    whole = json.loads(revealed["plan"])
    assert [f["code"] for f in masked["findings"]] == [f["code"] for f in whole["findings"]]
    assert any(EMAIL in f["message"] for f in whole["findings"])
    store = open_store(url)  # the stored text stays whole: EXPLAIN needs it
    try:
        assert store.captures.get("db-1|7|1")["sql_text"] == STATEMENT
        assert store.plans.get(plan_id)["explained_sql"] == STATEMENT
    finally:
        store.close()


# ---- the body limit on a real server, chunked ---------------------------------------------------
@pytest.fixture
def live(settings: Settings) -> Iterator[int]:
    app = create_app(replace(settings, max_request_bytes=64 * 1024))
    with serving(app.server) as port:
        yield port


def _post(port: int, body: Any, headers: dict[str, str], chunked: bool) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/api/plans/parse", body=body, headers=headers,
                     encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_a_chunked_body_past_the_limit_is_413_on_a_real_server(live: int) -> None:
    text = json.dumps({"text": "-> Table scan on t\n" + "    -> Table scan on t\n" * 5000})
    chunks = (text[i:i + 8192].encode() for i in range(0, len(text), 8192))
    status, body = _post(live, chunks, {"Content-Type": "application/json"}, chunked=True)
    assert (status, body) == (413, {"error": "the request body is larger than 65536 bytes"})
    status, body = _post(live, text.encode(), {"Content-Type": "application/json"},
                         chunked=False)
    assert status == 413
    small = json.dumps({"text": "-> Table scan on t"}).encode()
    status, body = _post(live, iter([small]), {"Content-Type": "application/json"},
                         chunked=True)
    assert status == 200 and body["root"]["operation"] == "Table scan"


def _chunked(path: str, body: bytes) -> dict[str, Any]:
    """A WSGI environ as a server hands over a chunked body: no Content-Length."""
    environ = EnvironBuilder(path=path, method="POST", input_stream=io.BytesIO(body),
                             content_type="application/json",
                             environ_overrides={"wsgi.input_terminated": True}).get_environ()
    del environ["CONTENT_LENGTH"]
    return environ


@pytest.mark.parametrize("path", ["/cloudwatch/run", "/api/realtime/status", "/_dash-x"])
def test_a_chunked_body_past_the_limit_is_413_wherever_it_goes(settings: Settings,
                                                                path: str) -> None:
    """Also where no route reads the body: a GET-only route, a path of the pages."""
    client = create_app(settings).server.test_client()
    padded = b'{"month": "2026-10"}' + b" " * LIMIT  # valid JSON if cut at the limit
    check_error(client.open(_chunked(path, padded)), 413, f"larger than {LIMIT} bytes")
    response = client.open(_chunked("/api/realtime/stop", b'{"instance_id": null}'))
    assert response.status_code == 200


def test_the_plan_size_cap_holds_for_a_decoded_object(settings: Settings) -> None:
    """With a larger body limit, a plan sent as an object still obeys the 2M-character cap."""
    client = create_app(replace(settings, max_request_bytes=8 * 1024 * 1024)) \
        .server.test_client()
    plan = {"query_block": {"select_id": 1, "message": "m" * 2_100_000}}
    check_error(client.post("/api/plans/parse", json={"text": plan}), 400, "too long")
    check_error(client.post("/api/plans/parse", json={"text": json.dumps(plan)}), 400,
                "too long")


# ---- secrets in configured URLs are never echoed ------------------------------------------------
def test_credentials_in_urls_never_reach_an_answer(settings: Settings, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    static = tmp_path / "static.json"
    static.write_text(json.dumps([{"instance_id": "onprem-1", "host": "10.1.1.1",
                                   "tags": {"env": "prd"}}]))
    dead = replace(settings, aws_region="us-east-1", aws_timeout_seconds=1,
                   aws_max_attempts=1, static_instances_file=static,
                   aws_endpoint_url=f"http://user:secret@127.0.0.1:{free_port()}")
    app = create_app(dead)
    client = app.server.test_client()
    refresh = client.post("/api/instances/refresh")
    assert refresh.status_code == 502
    assert "cannot reach the AWS endpoint (http://***@127.0.0.1" in refresh.get_json()[
        "errors"]["rds"]
    started = client.post("/cloudwatch/run", json={"month": "2026-10",
                                                   "instance_ids": ["onprem-1"]})
    assert started.status_code == 202, started.get_json()
    collection_id = started.get_json()["collection_id"]
    app.server.extensions["slowquery"].collection.wait(collection_id, timeout=60)
    answers = [refresh, client.get("/healthz"), client.get(f"/cloudwatch/runs/{collection_id}"),
               client.get("/cloudwatch/runs")]
    run = answers[2].get_json()
    assert run["errors"] and "***@127.0.0.1" in run["errors"][0]["error"]
    for response in answers:
        assert "secret" not in response.get_data(as_text=True)


def test_credentials_in_the_database_url_never_reach_a_store_error() -> None:
    from store.backend import StoreError
    from store.mongo_backend import MongoBackend

    for url in (f"mongodb://user:secret@127.0.0.1:{free_port()}/db",
                "mongodb://user:secret@127.0.0.1:notaport/db"):
        with pytest.raises(StoreError) as failure:
            MongoBackend(url, timeout_ms=300).ping()
        assert "secret" not in str(failure.value)


# ---- the same table as each kind of caller, with sign-in configured --------------------------
OPERATOR_ROUTES = frozenset({("POST", "/cloudwatch/run"), ("POST", "/api/instances/refresh"),
                             ("POST", "/api/realtime/start"), ("POST", "/api/realtime/stop")})
CALLERS = ("anonymous", "viewer", "operator", "cross-origin")
EVIL_ORIGIN = "https://evil.example"


@pytest.fixture(scope="module")
def secured_clients(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A signed-in app: tokens for viewer and operator, and an operator's browser session."""
    from auth.credentials import add_token, add_user

    folder = tmp_path_factory.mktemp("secured")
    users, tokens = folder / "users.json", folder / "tokens.json"
    add_user(users, "olga", "operator-password-1", "operator")
    settings = Settings(database_url=f"sqlite:///{folder}/app.db", scheduler_enabled=False,
                        auth_users_file=users, auth_tokens_file=tokens,
                        secret_key="hardening-secret-key-0123")
    tokens_by_role = {role: add_token(tokens, role, role) for role in ("viewer", "operator")}
    app = create_app(settings)
    session = app.server.test_client()
    signed_in = session.post("/login", data={"username": "olga",
                                             "password": "operator-password-1"})
    assert signed_in.status_code == 302
    return {"client": app.server.test_client(), "session": session, "tokens": tokens_by_role}


def _expected(case: Case, caller: str) -> tuple[int, str]:
    """What `caller` must get for `case`, given the order of the checks: host and origin,
    a form body (415), sign-in (401), the body limit (413), the route (404/405), the role
    (403), then the route's own checks."""
    path = case.path.split("?")[0]
    handshake = case.headers.get("Upgrade") == "websocket"
    unsafe = case.method in {"POST", "PUT", "PATCH", "DELETE"}
    public = path == "/healthz"
    if caller == "cross-origin" and (unsafe or handshake):
        return 403, "cross-origin request refused"
    if case.status == 415:
        return case.status, case.fragment
    if caller == "anonymous" and not public:
        return 401, "sign in first"
    routed = case.status in (405, 413) or case.fragment.startswith("no such")
    if caller == "viewer" and (case.method, path) in OPERATOR_ROUTES and not routed:
        return 403, "operators only"
    if caller == "viewer" and "literals=true" in case.path and case.status == 200:
        return 403, "for operators only"
    return case.status, case.fragment


@pytest.mark.parametrize(("case", "caller"), [(c, who) for c in CASES for who in CALLERS],
                         ids=[f"{c.name}-{who}" for c in CASES for who in CALLERS])
def test_bad_input_as_every_kind_of_caller(secured_clients: dict[str, Any], case: Case,
                                           caller: str) -> None:
    headers = dict(case.headers)
    client = secured_clients["client"]
    if caller in ("viewer", "operator"):
        headers["Authorization"] = f"Bearer {secured_clients['tokens'][caller]}"
    elif caller == "cross-origin":
        client = secured_clients["session"]  # a browser signed in as an operator
        headers["Origin"] = EVIL_ORIGIN
    status, fragment = _expected(case, caller)
    message = check_error(send(client, replace(case, headers=headers)), status, fragment)
    assert "x" * 120 not in message and "y" * 120 not in message


def test_a_list_of_digests_leaves_the_hourly_series_to_the_detail(seeded) -> None:
    client = seeded[0]
    listed = client.get("/api/digests?limit=5").get_json()["digests"]
    assert listed and all("hourly" not in d for d in listed)
    first = listed[0]
    detail = client.get(f"/api/digests/{first['instance_id']}/{first['period']}/"
                        f"{first['query_id']}").get_json()
    assert "hourly" in detail
