"""What every AWS tool shares: botocore errors translated once, and schemas and progress lines fit for a model."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from agents.aws import AwsClients
from agents.errors import ToolFailed
from agents.tools._aws import aws_errors
from agents.tools.infra import INFRA_TOOLS
from agents.tools.logs import LOGS_TOOLS
from agents.tools.monitor import MONITOR_TOOLS
from tests.unit.conftest import POLICY, policy_actions, tool_context

if TYPE_CHECKING:
    from agents.tools import ToolContext

ALL_TOOLS = [*MONITOR_TOOLS.tools, *LOGS_TOOLS.tools, *INFRA_TOOLS.tools]


def client_error(code: str, status: int, operation: str = "DescribeAlarms", message: str = "") -> ClientError:
    """The exception botocore raises for an AWS error answer."""
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


@pytest.mark.parametrize(
    ("error", "reason", "retryable"),
    [
        (client_error("AccessDenied", 403), "AccessDenied: the bot's role lacks cloudwatch:DescribeAlarms", False),
        (
            client_error("UnauthorizedOperation", 403),
            "UnauthorizedOperation: the bot's role lacks cloudwatch:DescribeAlarms",
            False,
        ),
        (
            client_error("ThrottlingException", 400),
            "ThrottlingException: AWS is throttling cloudwatch:DescribeAlarms; try again shortly",
            True,
        ),
        (
            client_error("ExpiredToken", 403, message="The security token included in the request is expired"),
            "ExpiredToken: AWS rejected the bot's credentials (The security token included in the request is expired)",
            False,
        ),
        (client_error("InternalFailure", 500, message="oops"), "InternalFailure: oops", True),
        (client_error("ValidationError", 400), "ValidationError from cloudwatch:DescribeAlarms", False),
        (
            EndpointConnectionError(endpoint_url="https://monitoring.eu-west-1.amazonaws.com/"),
            'could not reach the AWS endpoint (Could not connect to the endpoint URL: "https://monitoring.eu-west-1.amazonaws.com/")',
            True,
        ),
        (
            ParamValidationError(report="Invalid length for parameter AlarmNamePrefix"),
            "ParamValidationError: Parameter validation failed:\nInvalid length for parameter AlarmNamePrefix",
            False,
        ),
    ],
)
def test_botocore_errors_become_tool_failures_that_say_what_to_fix(
    error: Exception, reason: str, retryable: bool
) -> None:
    """Each kind of AWS failure is explained once, with its code, and marked retryable only when it is."""
    with pytest.raises(ToolFailed) as failed, aws_errors("CloudWatch alarms", "cloudwatch"):
        raise error

    assert (failed.value.source, failed.value.reason, failed.value.retryable) == (
        "CloudWatch alarms",
        reason,
        retryable,
    )
    assert failed.value.__cause__ is error


def test_errors_that_are_not_botocores_pass_through() -> None:
    """Only botocore errors are translated; anything else is a bug and propagates unchanged."""
    with pytest.raises(KeyError), aws_errors("EC2", "ec2"):
        raise KeyError("InstanceId")


async def test_missing_credentials_are_reported_without_waiting_for_instance_metadata(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no credentials anywhere in the chain, a tool fails saying so, instead of raising NoCredentialsError."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    # A fresh botocore session: the shared one may have resolved credentials already.
    async with AwsClients(region="eu-west-1", session=AioSession()) as aws:
        with pytest.raises(ToolFailed) as failed:
            await INFRA_TOOLS.tools[0].run(tool_context(aws, "eu-west-1"), INFRA_TOOLS.tools[0].parse({}))

    assert failed.value.source == "EC2"
    assert failed.value.reason.startswith("no usable AWS credentials")
    assert not failed.value.retryable


def test_tool_names_are_unique_across_agents() -> None:
    """Tool names identify tools in Bedrock's tool-use protocol: no two share one."""
    names = [tool.name for tool in ALL_TOOLS]
    assert len(names) == len(set(names)) == 12


@pytest.mark.parametrize("tool", ALL_TOOLS, ids=lambda tool: tool.name)
def test_schemas_are_closed_objects_without_generated_noise(tool: Any) -> None:
    """Each schema is an object that rejects unknown keys, without pydantic titles, null unions or strings' caps.

    Field descriptions are there only where the name and schema are not enough, and never restate a default
    the schema carries: every word rides on every model call.
    """
    schema = tool.input_schema
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    text = repr(schema)
    assert "'title'" not in text
    assert "'null'" not in text
    assert "'maxLength'" not in text  # validation enforces it; the model never needs it
    for field in schema["properties"].values():
        assert "default" not in field or "default" not in field.get("description", "").lower()
    assert all(str(default) not in tool.description for default in _defaults(schema)), tool.description


def _defaults(schema: dict[str, Any]) -> list[object]:
    """The defaults a schema states (so a description need not)."""
    return [field["default"] for field in schema["properties"].values() if "default" in field]


@pytest.fixture(scope="module")
def unopened(aio_session: AioSession) -> ToolContext:
    """A context whose clients are never opened: progress lines must not need them."""
    return tool_context(AwsClients(region="eu-west-1", session=aio_session), "eu-west-1")


# The least each tool accepts: its required fields only.
SMALLEST_INPUT: dict[str, dict[str, Any]] = {
    "get_metric_statistics": {"resource_type": "ec2", "resource_ids": ["i-1"]},
    "logs_insights_query": {"log_groups": ["/app/api"], "query": "fields @message"},
    "filter_log_events": {"log_group": "/app/api"},
}


@pytest.mark.parametrize("tool", ALL_TOOLS, ids=lambda tool: tool.name)
def test_progress_lines_render_even_for_empty_input(tool: Any, unopened: ToolContext) -> None:
    """The line shown while a tool runs needs no AWS call and copes with the smallest input the tool accepts."""
    line = tool.progress(unopened, tool.parse(SMALLEST_INPUT.get(tool.name, {})))
    assert line.endswith("…")
    assert "None" not in line


def test_the_iam_policy_grants_exactly_the_reads_the_tools_make() -> None:
    """Least privilege: the shipped policy allows these actions and nothing else, each statement named.

    (The ``ctx`` and ``extras`` fixtures check the other direction: every call a test makes is allowed.)
    """
    assert policy_actions() == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",
        "health:DescribeEvents",
        "health:DescribeEventDetails",
        "logs:DescribeLogGroups",
        "logs:FilterLogEvents",
        "logs:StartQuery",
        "logs:GetQueryResults",
        "logs:StopQuery",
        "ec2:DescribeInstances",
        "ecs:ListClusters",
        "ecs:ListServices",
        "ecs:DescribeServices",
        "rds:DescribeDBInstances",
        "lambda:ListFunctions",
        "autoscaling:DescribeAutoScalingGroups",
        "ce:GetCostAndUsage",
    }
    statements = json.loads(POLICY.read_text())["Statement"]
    assert all(s["Effect"] == "Allow" and s["Sid"].isalnum() for s in statements)
    assert len({s["Sid"] for s in statements}) == len(statements)
