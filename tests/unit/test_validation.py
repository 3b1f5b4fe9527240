"""Validation of task text: cleaning, agent prefixes, limits, and that no input crashes the parser."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.errors import InvalidTask
from agents.task import (
    MAX_TASK_CHARS,
    HelpRequest,
    Origin,
    ParsedText,
    Task,
    clean_text,
    new_request_id,
    parse_text,
)
from bot.markup import strip_leading_mention, to_plain_text

AGENTS = frozenset({"general", "monitor", "logs"})
ORIGIN = Origin(workspace_id="T1", user_id="U1", channel_id="C1", surface="command")


def test_request_ids_have_the_documented_shape() -> None:
    """``req-`` and twelve lowercase hex digits, different every time."""
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"req-[0-9a-f]{12}", i) for i in ids)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "help", "HELP", "?", "--help", "\u202e", "\x00\x07"])
def test_empty_or_help_text_asks_for_usage(text: str) -> None:
    """Nothing to do (after cleaning) or an explicit help word means usage help, not an error."""
    assert parse_text(text, agents=AGENTS) == HelpRequest()


def test_control_and_bidi_characters_are_removed() -> None:
    """Control characters (but newlines and tabs) and bidirectional overrides never reach the model."""
    assert clean_text("why\x00 is\u202e checkout\u2066 slow?\x1b[31m\r\n") == "why is checkout slow?[31m"
    assert clean_text("line one\nline\ttwo") == "line one\nline\ttwo"


def test_explicit_agent_prefix_selects_the_agent() -> None:
    """``monitor: …`` selects monitor and strips the prefix; case and spacing do not matter."""
    assert parse_text("Monitor :  what's alarming?", agents=AGENTS) == ParsedText("what's alarming?", "monitor")


def test_a_word_and_colon_that_is_no_agent_is_part_of_the_task() -> None:
    """``error: connection refused`` is a question, not a request for an agent called error."""
    assert parse_text("error: connection refused", agents=AGENTS) == ParsedText("error: connection refused", None)


def test_misspelt_agent_gets_a_correction() -> None:
    """``genral: …`` is a near miss: the user is told the right name and shown an example."""
    with pytest.raises(InvalidTask) as caught:
        parse_text("genral: explain 502s", agents=AGENTS)
    assert "general" in caught.value.reason
    assert caught.value.hint.startswith("general: explain 502s")


def test_agent_prefix_without_a_task_is_invalid() -> None:
    """``logs:`` alone names an agent but gives it nothing to do."""
    with pytest.raises(InvalidTask, match="nothing to do"):
        parse_text("logs:   ", agents=AGENTS)


def test_task_at_the_limit_is_accepted_and_one_more_is_refused() -> None:
    """4,000 characters after cleaning is fine; 4,001 is refused with the length and the limit."""
    assert isinstance(parse_text("a" * MAX_TASK_CHARS, agents=AGENTS), ParsedText)
    assert isinstance(parse_text("a" * MAX_TASK_CHARS + "\x00" * 50, agents=AGENTS), ParsedText)
    with pytest.raises(InvalidTask, match="4,001 characters"):
        parse_text("a" * (MAX_TASK_CHARS + 1), agents=AGENTS)


def test_task_model_rejects_a_malformed_request_id() -> None:
    """The Task model holds the invariants even when constructed directly."""
    with pytest.raises(ValueError, match="request_id"):
        Task(request_id="nope", origin=ORIGIN, text="hi")


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("ask <@U123ABC> about it", "ask @U123ABC about it"),
        ("ask <@U123|ana>", "ask @ana"),
        ("in <#C42|ops-alerts>", "in #ops-alerts"),
        (
            "see <https://example.com/x?a=1&amp;b=2|the dashboard>",
            "see the dashboard (https://example.com/x?a=1&b=2)",
        ),
        ("see <https://example.com>", "see https://example.com"),
        ("<!here> look", "@here look"),
        ("<!subteam^S1|@oncall> help", "@oncall help"),
        ("mail <mailto:a@b.co|a@b.co>", "mail a@b.co (mailto:a@b.co)"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
    ],
)
def test_slack_markup_is_normalised(raw: str, plain: str) -> None:
    """Mentions, channels, links, broadcasts and entities become what a person reads."""
    assert to_plain_text(raw) == plain


def test_leading_bot_mention_is_dropped() -> None:
    """``<@UBOT> monitor: x`` reads as ``monitor: x``."""
    assert strip_leading_mention("<@UBOT>  monitor: x") == "monitor: x"
    assert strip_leading_mention("<@UBOT|orch>, help") == "help"


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=5000))
def test_no_input_crashes_the_parser(raw: str) -> None:
    """Any text either parses or is refused with InvalidTask; accepted text is clean and within bounds."""
    try:
        parsed = parse_text(to_plain_text(raw), agents=AGENTS)
    except InvalidTask:
        return
    if isinstance(parsed, ParsedText):
        assert 0 < len(parsed.text) <= MAX_TASK_CHARS
        assert clean_text(parsed.text) == parsed.text
        Task(request_id=new_request_id(), origin=ORIGIN, text=parsed.text, agent=parsed.agent)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(AGENTS)), st.text(min_size=1, max_size=200))
def test_a_known_prefix_always_selects_its_agent(agent: str, rest: str) -> None:
    """Whatever follows ``agent:``, the agent is selected (or the task refused as empty)."""
    try:
        parsed = parse_text(f"{agent}: {rest}", agents=AGENTS)
    except InvalidTask:
        assert not clean_text(rest)
        return
    assert isinstance(parsed, ParsedText)
    assert parsed.agent == agent
