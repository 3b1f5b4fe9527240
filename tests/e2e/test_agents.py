"""The agents doing real ops work: the model asks for tools, the tools read moto over HTTP, the answer streams.

Bedrock is scripted turn by turn (a ``toolUse`` turn, then the answer), so each test checks what only a real
run could produce: the tool results the model was given contain the seeded data, the footer credits the
data source, and the answer streams into the thread.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from agents.testing.bedrock import Reply
from bot.testing.slack import app_mention_event
from tests.e2e.harness import unique
from tests.e2e.slackcalls import final_text, in_channel

if TYPE_CHECKING:
    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess

REGION = "us-east-1"  # the bot's region in the e2e environment


@pytest.fixture
def aws(moto_url: str) -> Any:
    """boto3 clients on the moto server the bot's tools use."""
    return lambda service: boto3.client(
        service, region_name=REGION, endpoint_url=moto_url, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def tool_results(bedrock: FakeBedrock) -> list[dict[str, Any]]:
    """Every toolResult the bot sent the model in its latest answer call."""
    messages = bedrock.answer_calls()[-1].body["messages"]
    return [block["toolResult"] for m in messages for block in m["content"] if "toolResult" in block]


async def test_monitor_reports_what_is_alarming_from_cloudwatch(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, aws: Any
) -> None:
    """``monitor: what's alarming?``: list_alarms reads the seeded ALARM, the answer streams with its source."""
    alarm = unique("checkout-5xx-")
    cloudwatch = aws("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="Threshold crossed: 42 > 10")
    bedrock.enqueue(
        Reply(text="Checking alarms. ", tool_uses=[{"name": "list_alarms", "input": {"state": "ALARM"}}]),
        Reply(text=f"**{alarm}** is in ALARM: 42 target 5xx in a minute against a threshold of 10."),
    )
    channel = unique("C")
    await bot.command(
        "monitor: what's alarming?", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    text = await final_text(slack, channel, timeout=20)
    (result,) = tool_results(bedrock)
    assert result["status"] == "success"
    assert alarm in result["content"][0]["text"]
    assert "Threshold crossed: 42 > 10" in result["content"][0]["text"]
    assert f"**{alarm}** is in ALARM" in text
    assert "agent `monitor`" in text
    assert "data: CloudWatch" in text
    cards = [
        chunk
        for c in slack.calls
        if in_channel(channel)(c) and c.method in {"chat.startStream", "chat.appendStream", "chat.stopStream"}
        for chunk in c.args.get("chunks") or ()
        if chunk.get("type") == "task_update"
    ]
    # The user saw what the agent was doing: the tool call as a task card in the answer, then done.
    assert [(card["title"], card["status"]) for card in cards] == [
        ("Listing CloudWatch alarms in ALARM in us-east-1…", "in_progress"),
        ("Listing CloudWatch alarms in ALARM in us-east-1…", "complete"),
    ]
    assert cards[-1]["sources"][0]["text"] == "CloudWatch alarms"


async def test_logs_agent_filters_recent_errors_in_a_log_group(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, aws: Any
) -> None:
    """``logs: errors in /app/api in the last hour``: filter_log_events returns the seeded error lines."""
    group = f"/app/api-{unique('x').lower()}"
    logs = aws("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="web-1")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="web-1",
        logEvents=[
            {"timestamp": now_ms - 60_000, "message": "INFO GET /health 200"},
            {"timestamp": now_ms - 30_000, "message": "ERROR payment provider timeout after 30s order=981"},
        ],
    )
    bedrock.enqueue(
        Reply(
            tool_uses=[
                {"name": "filter_log_events", "input": {"log_group": group, "filter_pattern": "ERROR", "minutes": 60}}
            ]
        ),
        Reply(text="One error in the last hour: the payment provider timed out (order 981)."),
    )
    channel = unique("C")
    await bot.command(
        f"logs: errors in {group} in the last hour",
        user=unique("U"),
        channel=channel,
        response_url=slack.new_response_url(),
    )
    text = await final_text(slack, channel, timeout=20)
    (result,) = tool_results(bedrock)
    assert "payment provider timeout" in result["content"][0]["text"]
    assert "payment provider timed out" in text
    assert "agent `logs`" in text


async def test_a_log_file_shared_in_the_thread_is_read_reduced_and_redacted(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """A 20,000-line log shared in a thread: downloaded with the bot token, reduced to templates, secrets gone."""
    lines = [
        f"2026-11-25T10:{i // 600:02d}:{i // 10 % 60:02d}Z INFO request id={i} served in {i % 90}ms"
        for i in range(20_000)
    ]
    lines[12_345] = "2026-11-25T10:20:34Z ERROR db pool exhausted host=db-1 token=xoxb-1234567890-abcdefghijklmnop"
    channel = unique("C")
    parent = slack.seed_message(channel, "checkout is slow, logs attached")
    shared = slack.share_file(channel, "api.log", "\n".join(lines).encode(), thread_ts=parent["ts"], text="here")
    file_id = shared["files"][0]["id"]
    mention = slack.seed_message(channel, "<@UBOT> logs: what's wrong in the attached log?", thread_ts=parent["ts"])
    bedrock.enqueue(
        Reply(tool_uses=[{"name": "read_shared_file", "input": {"file_id": file_id}}]),
        Reply(text="Mostly healthy traffic; one ERROR: the db pool was exhausted on db-1 at 10:20:34Z."),
    )
    await bot.event(
        app_mention_event(
            text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"], thread_ts=parent["ts"]
        )
    )
    text = await final_text(slack, channel, timeout=20)
    prompt = bedrock.answer_calls()[-1].first_turn_text()
    assert f'<file id="{file_id}" bytes="{len(chr(10).join(lines))}">\napi.log\n</file>' in prompt
    (result,) = tool_results(bedrock)
    wrapped = result["content"][0]["text"]
    assert wrapped.startswith('<tool_output tool="read_shared_file">\n')
    assert wrapped.endswith("\n</tool_output>")
    content = json.loads(wrapped.split("\n", 1)[1].rsplit("\n", 1)[0])
    assert content["lines"] == 20_000
    assert "db pool exhausted" in content["content"]
    assert "xoxb-1234567890" not in result["content"][0]["text"]
    assert len(result["content"][0]["text"]) < 40_000
    downloads = [c for c in slack.calls_to("file_download") if c.args["file"] == file_id]
    assert downloads
    assert downloads[0].token == slack.bot_token
    assert "db pool was exhausted" in text


async def test_mention_about_stopped_instances_is_routed_to_infra_and_grounded(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, aws: Any
) -> None:
    """``@orch what EC2 instances are stopped?``: the router picks infra and says why; EC2 data grounds the answer."""
    ec2 = aws("ec2")
    name = unique("batch-worker-")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    (instance,) = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.small",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Instances"]
    ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
    bedrock.enqueue_forced(
        Reply(
            tool_uses=[{"name": "choose_agent", "input": {"agent": "infra", "reason": "it asks about EC2 instances"}}]
        )
    )
    bedrock.enqueue(
        Reply(tool_uses=[{"name": "list_ec2_instances", "input": {"state": "stopped"}}]),
        Reply(text=f"One stopped instance: `{name}` ({instance['InstanceId']}, t3.small)."),
    )
    channel = unique("C")
    mention = slack.seed_message(channel, "<@UBOT> what EC2 instances are stopped?")
    await bot.event(app_mention_event(text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"]))
    text = await final_text(slack, channel, timeout=20)
    (result,) = tool_results(bedrock)
    assert name in result["content"][0]["text"]
    assert instance["InstanceId"] in result["content"][0]["text"]
    assert "agent `infra`" in text
    assert "routed: it asks about EC2 instances" in text
    assert f"`{name}`" in text


async def test_a_failing_data_source_goes_back_to_the_model_and_is_named(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """A tool error (a log group that does not exist) is an error result the model sees; the task still answers."""
    bedrock.enqueue(
        Reply(tool_uses=[{"name": "filter_log_events", "input": {"log_group": "/does/not/exist", "minutes": 60}}]),
        Reply(text="I couldn't read /does/not/exist: it does not exist in this account."),
    )
    channel = unique("C")
    await bot.command(
        "logs: errors in /does/not/exist", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    text = await final_text(slack, channel, timeout=20)
    (result,) = tool_results(bedrock)
    assert result["status"] == "error"
    assert "ResourceNotFound" in result["content"][0]["text"]
    assert "unavailable: CloudWatch Logs" in text


async def test_invalid_tool_input_goes_back_to_the_model_naming_the_fields(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """A misspelt key and an impossible value: an error result naming both; the corrected call runs, the task answers."""
    bedrock.enqueue(
        Reply(tool_uses=[{"name": "list_alarms", "input": {"state": "FIRING", "prefix": "checkout"}}]),
        Reply(tool_uses=[{"name": "list_alarms", "input": {"state": "ALARM", "name_prefix": "checkout"}}]),
        Reply(text="Nothing named checkout is alarming."),
    )
    channel = unique("C")
    await bot.command(
        "monitor: is checkout alarming?", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    text = await final_text(slack, channel, timeout=20)
    invalid, corrected = tool_results(bedrock)
    assert invalid["status"] == "error"
    message = invalid["content"][0]["text"]
    assert "list_alarms was not called, invalid input: state: Input should be 'ALARM'" in message
    assert "prefix: Extra inputs are not permitted" in message
    assert corrected["status"] == "success"
    assert "Nothing named checkout is alarming." in text
    assert "unavailable: CloudWatch alarms" not in text
    assert "Something went wrong" not in text
