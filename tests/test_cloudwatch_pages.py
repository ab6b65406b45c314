"""Pages read through `logs_client` (events decoded by json.loads) equal botocore's parse."""

from __future__ import annotations

from datetime import UTC, datetime

from collectors.aws import aws_client
from collectors.cloudwatch import logs_client
from settings import Settings
from tests.cw_seed import put_events, rds_entry

GROUP = "/aws/rds/instance/pages-db/slowquery"
STREAM = "pages-db"


def test_fast_pages_give_what_botocore_gives(aws_settings: Settings) -> None:
    start = datetime(2026, 10, 3, tzinfo=UTC)
    base = int(start.timestamp() * 1000)
    events = [(base + n * 1000, rds_entry(start, f"SELECT * FROM t WHERE id = {n} "
                                                 f"AND name = 'é\\n\"{n}'", 0.25 + n / 1000))
              for n in range(300)]
    put_events(aws_settings.aws_endpoint_url, aws_settings.aws_region, GROUP, STREAM, events)
    kwargs = {"logGroupName": GROUP, "logStreamName": STREAM, "startTime": base,
              "endTime": base + 10**7, "startFromHead": True}

    fast = logs_client(aws_settings).get_log_events(**kwargs)
    plain = aws_client(aws_settings, "logs").get_log_events(**kwargs)
    assert fast["events"] == plain["events"]
    assert [(e["timestamp"], e["message"]) for e in fast["events"]] == events
    assert fast["nextForwardToken"] == plain["nextForwardToken"]
    assert fast["nextBackwardToken"] == plain["nextBackwardToken"]

    filtered_fast = logs_client(aws_settings).filter_log_events(
        logGroupName=GROUP, startTime=base, endTime=base + 10**7)
    filtered_plain = aws_client(aws_settings, "logs").filter_log_events(
        logGroupName=GROUP, startTime=base, endTime=base + 10**7)
    assert filtered_fast["events"] == filtered_plain["events"]
    assert len(filtered_fast["events"]) == 300


def test_errors_still_come_through_botocore(aws_settings: Settings) -> None:
    import pytest
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        logs_client(aws_settings).get_log_events(logGroupName="/nope", logStreamName="x")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_fast_decoder_is_on_the_event_botocore_emits(aws_settings: Settings) -> None:
    client = logs_client(aws_settings)
    service = client.meta.service_model.service_id.hyphenize()
    assert service == "cloudwatch-logs"  # the name botocore's endpoint emits before parsing
    response = {"status_code": 200, "headers": {},
                "body": b'{"events": [{"timestamp": 1, "message": "m"}], "nextToken": "t"}'}
    customized: dict = {}
    client.meta.events.emit(f"before-parse.{service}.GetLogEvents", response_dict=response,
                            customized_response_dict=customized, operation_model=None)
    assert customized == {"events": [{"timestamp": 1, "message": "m"}]}
    assert response["body"] == b'{"nextToken": "t"}'  # botocore parses only the rest
