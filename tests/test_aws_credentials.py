"""Wrong AWS credentials give a clear error, on the Instances summary and in a run, never a
stack trace or an AWS error document. moto checks signatures here: its `/moto-api/reset-auth`
turns IAM authentication on, so from then on every call is checked against the IAM users'
keys, as AWS does (a key moto does not know, or the right key with a wrong secret)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest

from app import create_app
from settings import Settings
from tests.conftest import REGION
from tests.rds_seed import seed_rds
from tests.servers import MotoServer
from tests.test_collection import _seed_logs


def _reset_auth(moto: MotoServer, free_calls: str) -> None:
    request = urllib.request.Request(f"{moto.url}/moto-api/reset-auth",
                                     data=free_calls.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).read()


@pytest.fixture
def checked_aws(aws: MotoServer) -> Iterator[tuple[MotoServer, dict[str, str]]]:
    """The session's moto, seeded, with a valid key; IAM checks on until the test ends."""
    seed_rds(aws.url, REGION)
    _seed_logs(aws.url)
    iam = boto3.client("iam", endpoint_url=aws.url, region_name=REGION)
    iam.create_user(UserName="dba")
    iam.put_user_policy(UserName="dba", PolicyName="everything", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="dba")["AccessKey"]
    _reset_auth(aws, "0")
    try:
        yield aws, {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                    "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    finally:
        _reset_auth(aws, "inf")


@pytest.mark.parametrize("wrong, codes", [
    # RDS names the error; moto's CloudWatch Logs answers a bare 403 with an XML body
    ({"AWS_ACCESS_KEY_ID": "AKIAUNKNOWN00000000"}, ("InvalidClientTokenId", "HTTP 403")),
    ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, ("SignatureDoesNotMatch",)),  # legacy-maria
    # has no log group: AWS says so only to a signed caller, so it fails like the others
])
def test_wrong_credentials_give_a_clear_error(checked_aws, settings: Settings, monkeypatch,
                                              wrong: dict[str, str],
                                              codes: tuple[str, ...]) -> None:
    moto, good = checked_aws
    for name, value in good.items():
        monkeypatch.setenv(name, value)
    settings = replace(settings, aws_endpoint_url=moto.url, aws_region=REGION,
                       aws_max_attempts=2)
    app = create_app(settings)
    services = app.server.extensions["slowquery"]
    assert not services.inventory.refresh()["errors"]  # the good key works

    for name, value in wrong.items():
        monkeypatch.setenv(name, value)
    summary = services.inventory.refresh()
    message = summary["errors"]["rds"]
    assert ("AWS rejected the credentials" in message or "AWS refused the request" in message)
    assert any(code in message for code in codes)
    assert "<" not in message and good["AWS_SECRET_ACCESS_KEY"] not in message
    assert summary["discovered"] > 0  # what was known stays listed

    run = services.collection.start({"month": "2026-10"})
    services.collection.wait(run["collection_id"], timeout=60)
    final = services.store.runs.get(run["collection_id"])
    assert final["status"] == "error"
    assert final["message"].startswith("every instance failed")
    for error in final["errors"]:
        # moto's CloudWatch Logs answers a bare 403 where AWS names UnrecognizedClientException
        assert any(code in error["error"] for code in (*codes, "HTTP 403")), error
        assert "<" not in error["error"] and "Traceback" not in error["error"]
    print(f"\n{message}\n{final['errors'][0]['error']}")
