"""Fixtures for the AWS tools: one moto server per session, a clean account per test, and the JSON fake.

The tools run their real aiobotocore clients against moto over HTTP, reached only through the standard
``AWS_ENDPOINT_URL`` override (as in production, nothing is injected into the tools). Tests seed data with
boto3 through the same endpoint; moto's state is reset before each test through ``/moto-api/reset``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiobotocore.session import AioSession

from agents.assembly import shared_redis
from agents.aws import AwsClients
from agents.catalog import default_registry
from agents.task import Origin
from agents.testing.aws_extras import FakeAwsJson
from agents.testing.redis_keys import delete_prefix
from agents.tools import ToolContext
from tests.moto_account import MotoAccount

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from redis.asyncio import Redis

REGION = "eu-west-1"
POLICY = Path(__file__).parents[2] / "iam" / "orch-bot-readonly.json"


def policy_actions() -> set[str]:
    """Every IAM action the shipped read-only policy allows."""
    statements = json.loads(POLICY.read_text())["Statement"]
    return {action for statement in statements for action in statement["Action"]}


def declared_actions() -> set[str]:
    """Every IAM action the shipped agents' toolsets declare they need."""
    return {action for agent in default_registry().all() for action in agent.toolset.iam_actions}


def assert_allowed_by_policy(actions: list[str]) -> None:
    """Fail if a tool called an AWS operation its toolset does not declare, or the shipped IAM policy denies."""
    undeclared = sorted(set(actions) - declared_actions())
    assert not undeclared, f"no toolset declares {undeclared} in its iam_actions, yet the tools called them"
    missing = sorted(set(actions) - policy_actions())
    assert not missing, f"{POLICY.name} lacks {missing}, which the tools called"


#: Where the tools' tasks come from in these tests.
ORIGIN = Origin(
    workspace_id="T0TOOLS", user_id="U0ANA", channel_id="C0OPS", thread_id="1700000000.000100", surface="mention"
)
REQUEST_ID = "req-0123456789ab"


def tool_context(aws: AwsClients, region: str = REGION, **extra: Any) -> ToolContext:
    """What a tool gets at run time, for a task from :data:`ORIGIN`."""
    return ToolContext(aws=aws, region=region, origin=ORIGIN, request_id=REQUEST_ID, **extra)


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An environment whose AWS endpoint (moto's URL, returned) and credentials are the test's own."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return moto_url


@pytest.fixture
def moto(aws_env: str) -> MotoAccount:
    """An empty moto account for a test that seeds data."""
    account = MotoAccount(aws_env)
    account.reset()
    return account


_CALLED: list[str] = []


def _record_call(model: Any, **_: Any) -> None:
    _CALLED.append(f"{model.service_model.service_name}:{model.name}")


@pytest.fixture(scope="session")
def aio_session() -> AioSession:
    """One botocore session for the run: it caches the parsed service models, which are slow to load.

    Endpoints and credentials are still read from the environment each time a client is created. Every
    operation called through it is recorded, to check it against the shipped IAM policy.
    """
    session = AioSession()
    session.register("before-call", _record_call)
    return session


@pytest_asyncio.fixture
async def ctx(aws_env: str, aio_session: AioSession) -> AsyncIterator[ToolContext]:
    """What a tool gets at run time: shared clients for the bot's region (opened on first use).

    Afterwards, every AWS operation the test's tools called must be allowed by ``iam/orch-bot-readonly.json``.
    """
    _CALLED.clear()
    async with AwsClients(region=REGION, session=aio_session) as aws:
        yield tool_context(aws)
    assert_allowed_by_policy(_CALLED)


@pytest_asyncio.fixture
async def extras() -> AsyncIterator[FakeAwsJson]:
    """The JSON-protocol fake; point a service at it with its ``AWS_ENDPOINT_URL_<SERVICE>`` variable."""
    async with FakeAwsJson() as fake:
        yield fake
    # The us-east-1 clients (Health, Cost Explorer) are the tools' own; check what reached the fake.
    iam_prefix = {"monitoring": "cloudwatch"}  # SigV4 signing name -> IAM prefix, where they differ
    assert_allowed_by_policy(
        [f"{iam_prefix.get(call.signing_service, call.signing_service)}:{call.operation}" for call in fake.calls]
    )


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        """The current time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock."""
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    """Time for polling loops, advanced by their own sleeps."""
    return FakeTime()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[tuple[Redis, str]]:
    """The process-style client and a unique key prefix, deleted afterwards."""
    prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
    client = shared_redis(redis_url)
    yield client, prefix
    await delete_prefix(redis_url, prefix)
    await client.aclose()
