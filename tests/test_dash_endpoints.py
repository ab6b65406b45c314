"""Dash's own endpoints answer bad requests with a short 4xx JSON message, never a 500."""

from __future__ import annotations

import pytest

from app import create_app
from settings import Settings

SAME_ORIGIN = {"Origin": "http://localhost"}


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"{}", 400, "must be an object with an output"),
    (b"[]", 400, "must be an object with an output"),
    (b'{"output": 1}', 400, "must be an object with an output"),
    (b"not json", 400, "must be JSON"),
    (b"[" * 5000, 400, "nested too deeply"),
    (b'{"output": "nope.children", "inputs": [], "changedPropIds": []}', 404,
     "no callback has the output 'nope.children'"),
    (b'{"output": "KNOWN", "inputs": {}, "changedPropIds": []}', 400,
     "inputs must be a list"),
])
def test_malformed_callback_requests_are_4xx(settings: Settings, body: bytes, status: int,
                                             message: str) -> None:
    app = create_app(settings)
    client = app.server.test_client()
    client.get("/_dash-layout")  # Dash fills its callback map on the first request
    body = body.replace(b"KNOWN", next(iter(app.callback_map)).encode().replace(b'"', b'\\"'))
    response = client.post("/_dash-update-component", data=body,
                           content_type="application/json", headers=SAME_ORIGIN)
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_an_unknown_script_package_is_404(settings: Settings) -> None:
    response = create_app(settings).server.test_client().get(
        "/_dash-component-suites/nope/x.js")
    assert response.status_code == 404
    assert response.get_json()["error"].startswith("no such script")
