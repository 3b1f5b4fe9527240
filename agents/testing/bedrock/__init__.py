"""A fake Amazon Bedrock Runtime that the real aiobotocore client can talk to over HTTP.

Why it exists: mocking ``client.converse`` in-process skips everything that actually breaks in
production: botocore's request serialisation, URL-encoding of model ids, error parsing from
``x-amzn-ErrorType``, event-stream decoding, connection pooling under load. This package runs a real
aiohttp server on 127.0.0.1 that speaks Bedrock's wire protocol (rest-json for ``Converse``, AWS
event-stream binary frames for ``ConverseStream``), so the bot's own client code runs unchanged with
``endpoint_url`` (or ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``) pointed at it.

Tests script model turns with :meth:`FakeBedrock.enqueue` (:class:`Reply` and :class:`Fault` items,
consumed FIFO, one per model invocation) and inspect what was sent through :attr:`FakeBedrock.calls`.
Load benchmarks use ``latency`` / ``chunk_delay`` (plain ``asyncio.sleep``, nothing blocks) and read
:attr:`FakeBedrock.peak_in_flight`. Standalone: ``python -m agents.testing.bedrock --port 0 --latency 2``
prints the endpoint URL and serves until interrupted.

Shapes follow botocore's service model ``botocore/data/bedrock-runtime/2023-09-30/service-2.json``.

Modules: ``script`` (what tests script, what the fake records), ``server`` (the HTTP server), ``wire``
(event-stream frames, error answers, AWS's own checks), ``service_model`` (botocore's model of the
service, which every request is held to), ``cli`` (the standalone server).
"""

from agents.testing.bedrock.cli import run_cli
from agents.testing.bedrock.script import (
    ERROR_STATUS,
    STOP_REASONS,
    STREAM_ERRORS,
    ConverseCall,
    Fault,
    Reply,
    echo_reply,
)
from agents.testing.bedrock.server import FakeBedrock
from agents.testing.bedrock.wire import encode_event_frame

__all__ = [
    "ERROR_STATUS",
    "STOP_REASONS",
    "STREAM_ERRORS",
    "ConverseCall",
    "FakeBedrock",
    "Fault",
    "Reply",
    "echo_reply",
    "encode_event_frame",
    "run_cli",
]
