"""Load benchmark: the real ``orch-bot`` (HTTP mode) against the fakes, driven at fixed rates, with a ceiling.

``python -m benchmarks.load [--rates 10,50,100,200] [--duration 10] [--bedrock-latency 2.0] [--smoke]
[--json PATH]``

For every step the bot is started afresh (``orch-bot serve``, settings from the environment as an operator
would give them) against a fake Slack and a fake Bedrock (``bot.testing.slack``, ``agents.testing.bedrock``),
warmed up with a few tasks, and then sent signed slash commands and ``app_mention`` events at a fixed rate,
open loop: each send is scheduled on a clock, never waits for the previous answer, and records how late it
left. After the sends the step waits (bounded) for the tasks still waiting on Bedrock to finish, then reads the figures:

* ack latency p50/p99/max, from the sender's side of the HTTP request (what Slack would see);
* tasks completed (a ``chat.stopStream`` or final ``chat.update`` reached the fake Slack) and errors
  (non-2xx or timed-out acks, refusals, warning messages posted, tasks not finished in time);
* peak in-flight Bedrock calls at the fake;
* bot CPU seconds per task (``utime + stime`` of the bot process over the step, divided by tasks
  completed: the HTTP server, Bolt, the Slack and Bedrock clients, everything but the model);
* peak RSS (``VmHWM`` of the bot, which is restarted per step so each peak is that step's);
* from the fake Bedrock writing a task's first text delta to the fake Slack receiving that task's first
  answer update (``chat.startStream``, or a ``chat.update`` carrying the answer).

The same steps are then sent to :mod:`benchmarks.ceiling_app`, a bare Bolt app that only acks, and our
throughput and latency are printed as ratios to it. With ``--floor`` (the default), :mod:`benchmarks.floor`
then makes each step's client calls alone, at its rate, and the bot's CPU per task outside the LLM (its
Bedrock client's own CPU, which the bot counts, taken out) is printed against that floor plus the ceiling's
ack. ``--smoke`` is one short step for CI (figures printed, never asserted). docs/performance.md explains
the method and holds the results.

The fakes run in a helper process by default (``--fakes process``), so that serving the bot's Slack and
Bedrock traffic does not share an event loop with the load generator; ``--fakes inproc`` runs them here.

One concept per module: ``fakes`` (the fakes and what a step reads from them), ``fakes_process`` (where
they run), ``servers`` (the processes under test and the benchmark's Redis), ``metering`` (CPU and memory
from ``/proc``), ``traffic`` (the signed requests and the open- and closed-loop senders), ``steps`` (one
step, start to figures), ``results`` (the figures, tables, ratios and targets) and ``cli``.
"""

from benchmarks.load.cli import add_fake_model_options, fake_options, main
from benchmarks.load.fakes import FakeOptions
from benchmarks.load.fakes_process import open_fakes
from benchmarks.load.results import CEILING_TITLE, TABLE_TITLE, TARGET_TITLE, describe_machine
from benchmarks.load.servers import RedisServer

__all__ = [
    "CEILING_TITLE",
    "TABLE_TITLE",
    "TARGET_TITLE",
    "FakeOptions",
    "RedisServer",
    "add_fake_model_options",
    "describe_machine",
    "fake_options",
    "main",
    "open_fakes",
]
