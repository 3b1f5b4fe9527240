from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.floor import FLOOR_TITLE
from benchmarks.load import CEILING_TITLE, TABLE_TITLE, TARGET_TITLE

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(module: str, *args: str, timeout: float) -> str:
    """Run ``python -m benchmarks.<module> <args>``, print its figures for the CI log, and return its stdout.

    It must exit 0; otherwise the tail of its stderr is the failure message.
    """
    completed = subprocess.run(  # noqa: S603 - our own module, run with the test's interpreter
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    print(completed.stdout)  # noqa: T201 - the figures belong in the CI log
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed.stdout


@pytest.mark.timeout(150)
def test_load_benchmark_smoke_mode_runs_and_prints_its_tables(tmp_path: Path) -> None:
    """``python -m benchmarks.load --smoke`` starts the real bot and the ceiling, drives them, and prints the tables.

    Only behaviour is checked (it exits 0, prints the table headers and writes the JSON it was asked for): the
    figures are printed for whoever reads the CI log, never asserted, since timing on a shared runner is noise.
    """
    out = tmp_path / "smoke.json"
    stdout = run_benchmark("load", "--smoke", "--json", str(out), "--workdir", str(tmp_path / "logs"), timeout=120)
    for title in (TABLE_TITLE, CEILING_TITLE, TARGET_TITLE):
        assert f"== {title} ==" in stdout
    assert "ack p99 ms" in stdout
    assert "ack->visible p99 ms" in stdout  # the time from the ack to the first thing a person sees
    assert out.exists()


@pytest.mark.timeout(150)
def test_load_benchmark_smoke_runs_the_split_topology_on_redis(tmp_path: Path, redis_url: str) -> None:
    """``--workers 1`` runs ``serve --ingress-only`` and one ``orch-bot worker`` on Redis; every task is answered."""
    out = tmp_path / "smoke.json"
    stdout = run_benchmark(
        "load",
        *("--smoke", "--no-ceiling", "--workers", "1", "--redis-url", redis_url),
        *("--json", str(out), "--workdir", str(tmp_path / "logs")),
        timeout=120,
    )
    assert "topology: `orch-bot serve --ingress-only` + 1 `orch-bot worker` on Redis" in stdout
    (step,) = json.loads(out.read_text())["bot"]
    assert step["processes"] == 2
    assert step["completed"] == step["accepted"] > 0
    assert step["errors"] == 0


@pytest.mark.timeout(90)
def test_floor_benchmark_smoke_mode_runs_the_clients_and_prints_its_figures(tmp_path: Path, redis_url: str) -> None:
    """``python -m benchmarks.floor --smoke`` drives the three clients against the fakes and Redis and reports."""
    out = tmp_path / "floor.json"
    stdout = run_benchmark("floor", "--smoke", "--redis-url", redis_url, "--json", str(out), timeout=80)
    assert f"== {FLOOR_TITLE} ==" in stdout
    floor = json.loads(out.read_text())["floor"]
    assert floor["tasks"] == 20
    assert floor["slack_calls_per_task"] >= 3  # parent, start, stop: every task streamed to the end


@pytest.mark.timeout(90)
def test_floor_benchmark_smoke_mode_with_the_one_process_store(tmp_path: Path) -> None:
    """``--store sqlite`` measures one process's journal writes instead of Redis (no Redis needed)."""
    out = tmp_path / "floor.json"
    run_benchmark("floor", "--smoke", "--store", "sqlite", "--json", str(out), timeout=80)
    floor = json.loads(out.read_text())["floor"]
    assert (floor["store"], floor["tasks"]) == ("sqlite", 20)
    assert floor["store_client_ms_per_task"] > 0


async def test_token_benchmark_measures_caching_off_and_on_with_the_fake_bedrocks_accounting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same input tokens either way; on, each later call reads all the call before sent; the tables print."""
    from agents.catalog import default_registry  # noqa: PLC0415
    from benchmarks.tokens import SCRIPTS, measure, report, tool_definition_tokens  # noqa: PLC0415 - only this test

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:1")  # replaced by the benchmark's fake
    rows = await measure()
    assert [script for script, _, _ in rows] == list(SCRIPTS)
    for script, off, on in rows:
        assert len(on.usages) == len(script.turns) + 1
        assert on.input_tokens == off.input_tokens
        assert off.later_share == 0.0
        assert on.repeat_served == 1.0
        assert on.later_share > 0.5
    definitions = tool_definition_tokens(default_registry())
    assert definitions["general"] == (0, 0)
    assert all(definitions[name][0] > 0 for name in ("monitor", "logs", "infra"))
    table = report(rows, definitions)
    assert "calls 2+" in table
    assert "Tool-definition tokens per agent" in table


def test_tool_definition_benchmark_counts_what_the_adapter_sends_and_shows_before_and_after() -> None:
    """Per agent: the toolConfig the Bedrock adapter builds, counted as the fake does; none grew past its baseline."""
    from agents.catalog import default_registry  # noqa: PLC0415
    from agents.testing.bedrock.cache import prompt_chars  # noqa: PLC0415
    from benchmarks.tooldefs import BEFORE, definitions, measure, report  # noqa: PLC0415 - only this test

    registry = default_registry()
    measured = {row.agent: row for row in measure(registry)}
    assert set(measured) == set(registry.names())
    assert measured["general"].tools == ()
    for agent in registry.all():
        sent = definitions(agent.toolset.tools)
        assert [spec["toolSpec"]["name"] for spec in sent] == [t.name for t in agent.toolset.tools]
        assert measured[agent.name].chars == sum(prompt_chars("tools", spec) for spec in sent)
        assert measured[agent.name].tokens == measured[agent.name].chars // 4
        tools, chars = BEFORE[agent.name]
        if tools == len(agent.toolset.tools):  # an agent given new tools is compared by its own figures
            assert measured[agent.name].chars <= chars
    table = report(list(measured.values()), before=BEFORE, per_tool=True)
    assert "Tool-definition tokens per agent" in table
    assert "list_alarms" in table
