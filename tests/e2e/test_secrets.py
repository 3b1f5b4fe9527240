"""Planted secrets never reach Bedrock, the bot's Slack messages, or its log.

They are planted everywhere a task reads: the question, the thread, log events and a shared file.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import boto3

from tests.e2e.harness import unique
from tests.e2e.slackcalls import final_text
from tests.fakes.bedrock import Reply
from tests.fakes.slack import app_mention_event

if TYPE_CHECKING:
    from tests.e2e.harness import BotProcess
    from tests.fakes.bedrock import FakeBedrock
    from tests.fakes.slack import FakeSlack

# One of each kind the redactor knows; the fragments after each are what must never appear.
PLANTED = {
    "xoxb-2222222222-3333333333-PlantedSlackToken": "PlantedSlackToken",
    "xapp-1-A0PLANT-4444444444-plantedapptoken0": "plantedapptoken0",
    "AKIAPLANTEDKEY000001": "AKIAPLANTEDKEY000001",
    "aws_secret_access_key=PlantedSecretAccessKey0123456789": "PlantedSecretAccessKey",
    "Authorization: Bearer eyPlantedBearerToken.abcdefghij": "eyPlantedBearerToken",
    "postgres://app:PlantedDbPassw0rd@db.internal:5432/app": "PlantedDbPassw0rd",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIPlantedPrivateKeyBody\n-----END RSA PRIVATE KEY-----": "MIIPlantedPrivateKeyBody",
}


async def test_planted_secrets_reach_neither_bedrock_nor_logs(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, moto_url: str
) -> None:
    """Every Bedrock request body and every log line is free of every planted secret."""
    secrets = list(PLANTED)
    group = f"/app/secrets-{unique('x').lower()}"
    logs = boto3.client(
        "logs", region_name="us-east-1", endpoint_url=moto_url, aws_access_key_id="t", aws_secret_access_key="t"
    )
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now_ms - 1000 + i, "message": f"ERROR leaked {secret}"} for i, secret in enumerate(secrets)
        ],
    )
    channel = unique("C")
    parent = slack.seed_message(channel, "deploy creds: " + secrets[0])
    slack.seed_message(channel, "db: " + secrets[5], thread_ts=parent["ts"])
    shared = slack.share_file(
        channel, "leak.log", "\n".join(f"line {s}" for s in secrets).encode(), thread_ts=parent["ts"]
    )
    mention = slack.seed_message(
        channel, f"<@UBOT> logs: check {group} and the file, my key is {secrets[2]}", thread_ts=parent["ts"]
    )
    calls_before = len(bedrock.calls)
    bedrock.enqueue(
        Reply(
            tool_uses=[
                {"name": "filter_log_events", "input": {"log_group": group, "minutes": 60}},
                {"name": "read_shared_file", "input": {"file_id": shared["files"][0]["id"]}},
            ]
        ),
        Reply(text="Found leaked credentials in the logs; rotate them."),
    )
    await bot.event(
        app_mention_event(
            text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"], thread_ts=parent["ts"]
        )
    )
    await final_text(slack, channel, timeout=20)

    sent = json.dumps([call.body for call in bedrock.calls[calls_before:]])
    assert "leaked" in sent  # the tool results did reach the model…
    assert "[REDACTED" in sent  # …with the secrets replaced
    written = json.dumps(
        [c.args for c in slack.calls if c.args.get("channel") == channel and c.method.startswith("chat.")]
    )
    for fragment in PLANTED.values():
        assert fragment not in sent, f"{fragment} reached Bedrock"
        assert fragment not in bot.log(), f"{fragment} reached the log"
        assert fragment not in written, f"{fragment} reached Slack"
