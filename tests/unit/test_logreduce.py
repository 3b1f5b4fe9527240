"""The log reducer: what a large log becomes before it reaches the model, and what must survive."""

from __future__ import annotations

import hashlib
import re
import string
from typing import TypeVar

import pytest

from agents.logreduce import ReducedLog, estimate_tokens, reduce_log
from benchmarks.loggen import GeneratedLog, generate_log

T = TypeVar("T")


@pytest.fixture(scope="module")
def big_log() -> GeneratedLog:
    """50,000 lines of INFO/WARN noise with five error patterns planted three times each."""
    return generate_log(50_000, seed=11)


@pytest.fixture(scope="module")
def big_reduced(big_log: GeneratedLog) -> ReducedLog:
    """``big_log`` reduced with the default 8k-token budget."""
    return reduce_log(big_log.lines)


def entry_lines(text: str) -> list[str]:
    """The rendered template entries (``#rank severity countx ...: template``), without samples."""
    return [line for line in text.splitlines() if line.startswith("#")]


def distinct_words(k: int) -> str:
    """Four words no other ``k`` shares, so lines built on them never merge into one template."""
    letters = string.ascii_lowercase
    return " ".join("".join(letters[(4 * k + i) // 26**place % 26] for place in range(3)) + "x" for i in range(4))


def only(items: list[T]) -> T:
    """The one item in ``items``; fails, listing them, if there is not exactly one."""
    assert len(items) == 1, items
    return items[0]


def test_small_log_is_passed_through_verbatim() -> None:
    """A log whose raw text fits the budget is the text itself; templates are still mined."""
    lines = [
        "2024-05-01T10:00:00Z INFO started worker 1\n",
        "2024-05-01T10:00:01Z INFO started worker 2\n",
        "2024-05-01T10:00:02Z ERROR could not reach db at 10.0.0.7\n",
    ]

    reduced = reduce_log(lines)

    assert reduced.text == "".join(lines).rstrip("\n")
    assert reduced.estimated_tokens == estimate_tokens(reduced.text)
    assert (reduced.total_lines, reduced.total_chars) == (3, len(reduced.text))
    assert (reduced.omitted_templates, reduced.omitted_lines) == (0, 0)
    assert [(stat.severity, stat.count) for stat in reduced.templates] == [("error", 1), ("info", 2)]


def test_planted_rare_errors_survive_a_50k_line_log_within_8k_tokens(
    big_log: GeneratedLog, big_reduced: ReducedLog
) -> None:
    """50,000 lines of INFO noise fit in 8k tokens, and each planted 3-line error pattern is shown, counted."""
    assert estimate_tokens("\n".join(big_log.lines)) > 1_000_000
    assert big_reduced.estimated_tokens == estimate_tokens(big_reduced.text) <= 8000
    entries = entry_lines(big_reduced.text)
    for pattern in big_log.planted:
        stat = only([stat for stat in big_reduced.templates if pattern.marker in stat.template])
        assert (stat.severity, stat.count) == ("error", pattern.count), pattern.name
        entry = only([line for line in entries if pattern.marker in line])
        assert f" error {pattern.count}x " in entry
        assert entry.endswith(stat.template)


def test_errors_rank_above_frequent_info_noise(big_log: GeneratedLog, big_reduced: ReducedLog) -> None:
    """The rarest error outranks the most frequent INFO template; within a severity, more frequent first."""
    severities = [stat.severity for stat in big_reduced.templates]
    assert severities[: len(big_log.planted)] == ["error"] * len(big_log.planted)
    assert "error" not in severities[len(big_log.planted) :]
    infos = [stat.count for stat in big_reduced.templates if stat.severity == "info"]
    assert infos == sorted(infos, reverse=True)
    assert infos[0] > 10_000


def test_variable_parts_are_masked_so_variants_collapse() -> None:
    """Numbers, ids, IPs, hex, UUIDs, timestamps and durations vary per line but make one template."""

    def line(n: int) -> str:
        digest = hashlib.sha256(str(n).encode()).hexdigest()  # varied, reproducible hex
        return (
            f"WARN lease {digest[:32]} for job-{10_000 + n} on 10.{n % 256}.0.{n * 13 % 256}:{1024 + n} "
            f"renewed at 2024-05-01T10:{n % 60:02d}:00Z after {n * 37 % 900 + 1}ms "
            f"trace=0x{digest[32:40]} id {digest[40:48]}-2fa1-11d2-883f-{digest[48:60]}"
        )

    lines = [line(n) for n in range(200)]

    stat = only(list(reduce_log(lines).templates))

    assert stat.count == 200
    assert stat.severity == "warning"
    for mask in ("<HEX>", "<IP>", "<TS>", "<DUR>", "<UUID>", "job-<NUM>"):
        assert mask in stat.template


def test_http_5xx_status_is_an_error_even_on_an_info_line() -> None:
    """An access line with a 5xx status is its own error template, apart from the same line with a 2xx."""
    lines = [
        f'10.0.0.{i % 250} - - [01/May/2024:10:00:{i % 60:02d} +0000] "GET /api/orders/{i} HTTP/1.1" '
        f"{503 if i % 1000 == 0 else 200} {100 + i}"
        for i in range(1, 3001)
    ]

    templates = reduce_log(lines).templates

    assert [(stat.severity, stat.count) for stat in templates] == [("error", 3), ("other", 2997)]
    assert "<5XX>" in templates[0].template
    assert templates[0].first_seen == "01/May/2024:10:00:40 +0000"


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (
            "2024-05-01T10:00:00.123Z ERROR disk full on /dev/xvda",
            "2024-05-01T11:30:00.456Z ERROR disk full on /dev/xvda",
            ("2024-05-01T10:00:00.123Z", "2024-05-01T11:30:00.456Z"),
        ),
        (
            "2024-05-01 10:00:00,123 ERROR disk full on /dev/xvda",
            "2024-05-01 11:30:00,456 ERROR disk full on /dev/xvda",
            ("2024-05-01 10:00:00,123", "2024-05-01 11:30:00,456"),
        ),
        (
            "May  1 10:00:00 ip-10-0-0-1 kernel: ERROR disk full on /dev/xvda",
            "May  1 11:30:00 ip-10-0-0-1 kernel: ERROR disk full on /dev/xvda",
            ("May  1 10:00:00", "May  1 11:30:00"),
        ),
        (
            "[Wed May 01 10:00:00.123456 2024] [core:error] [pid 42] disk full on /dev/xvda",
            "[Wed May 01 11:30:00.654321 2024] [core:error] [pid 43] disk full on /dev/xvda",
            ("Wed May 01 10:00:00.123456 2024", "Wed May 01 11:30:00.654321 2024"),
        ),
    ],
    ids=["iso8601", "python-logging", "syslog", "apache-error"],
)
def test_first_and_last_seen_are_the_leading_timestamps(first: str, last: str, expected: tuple[str, str]) -> None:
    """A leading timestamp is recognised, left out of the template, and reported as first/last seen."""
    lines = [first, "no timestamp here INFO ping", last]

    error = only([stat for stat in reduce_log(lines).templates if stat.severity == "error"])

    assert (error.first_seen, error.last_seen) == expected
    assert (error.first_line, error.last_line, error.count) == (1, 3, 2)
    assert expected[0] not in error.template
    assert "disk full on /dev/xvda" in error.template


def test_lines_without_timestamps_have_no_first_or_last_seen() -> None:
    """Without a recognisable leading timestamp, only line numbers say where a template occurred."""
    stat = only(list(reduce_log(["INFO tick 1", "INFO tick 2", "INFO tick 3"]).templates))

    assert (stat.first_seen, stat.last_seen) == (None, None)
    assert (stat.first_line, stat.last_line) == (1, 3)


def test_samples_are_the_first_distinct_raw_lines_up_to_the_limit() -> None:
    """Each template keeps at most ``samples_per_template`` raw lines, distinct, in order of appearance."""
    lines = ["INFO job 7 done", "INFO job 7 done", *(f"INFO job {n} done" for n in range(10, 60))]

    reduced = reduce_log(lines, samples_per_template=3)
    none = reduce_log(lines, samples_per_template=0)

    assert only(list(reduced.templates)).samples == ("INFO job 7 done", "INFO job 10 done", "INFO job 11 done")
    assert only(list(none.templates)).samples == ()


def test_omission_note_says_how_many_templates_and_lines_were_left_out() -> None:
    """When not every template fits, the text says exactly how many templates and lines it leaves out."""
    lines = [f"INFO {distinct_words(n % 500)} {n}" for n in range(5000)]  # 500 templates

    reduced = reduce_log(lines, token_budget=500)

    assert reduced.estimated_tokens <= 500
    assert reduced.omitted_templates > 0
    shown = reduced.templates[: len(reduced.templates) - reduced.omitted_templates]
    assert len(entry_lines(reduced.text)) == len(shown)
    assert reduced.omitted_lines == reduced.total_lines - sum(stat.count for stat in shown)
    note = f"{reduced.omitted_templates:,} more templates covering {reduced.omitted_lines:,} lines not shown"
    assert note in reduced.text


def test_samples_are_dropped_before_templates_and_the_text_says_so() -> None:
    """Under a tight budget, templates past a point lose their samples first, with a note saying from where."""
    # Drain never merges lines of different lengths, so this makes 40 templates.
    lines = [f"ERROR retry{' x' * (n % 40)} failed for job {n}" for n in range(4000)]

    reduced = reduce_log(lines, token_budget=1500)

    assert reduced.estimated_tokens <= 1500
    assert (len(reduced.templates), reduced.omitted_templates) == (40, 0)
    match = re.search(r"\[Samples not shown from #(\d+) on, to fit the budget\.\]", reduced.text)
    assert match is not None
    first_without = int(match[1])
    assert 1 < first_without <= 40
    body = reduced.text.splitlines()
    for rank in (first_without - 1, first_without):
        at = next(index for index, line in enumerate(body) if line.startswith(f"#{rank} "))
        has_samples = body[at + 1].startswith("    ")
        assert has_samples == (rank < first_without)


def test_lines_of_new_shapes_past_the_template_limit_are_still_counted() -> None:
    """After 1,000 templates, lines of new shapes are counted per severity (not mined) rather than dropped."""
    # Drain never merges lines with different numbers of words: one template per line here.
    lines = [f"INFO {'x ' * n}end" for n in range(1010)]
    lines += ["ERROR disk quota exceeded", "INFO end"]

    templates = reduce_log(lines, max_line_chars=5000).templates

    assert len(templates) == 1002
    unmined = [stat for stat in templates if "not mined" in stat.template]
    assert [(stat.severity, stat.count, stat.first_line) for stat in unmined] == [
        ("error", 1, 1011),
        ("info", 10, 1001),
    ]
    assert unmined[0].samples == ("ERROR disk quota exceeded",)
    assert only([stat for stat in templates if stat.template == "INFO end"]).count == 2


def test_long_lines_are_truncated_with_a_marker() -> None:
    """A line longer than ``max_line_chars`` is cut there and says how much was cut."""
    long_line = "ERROR payload rejected: " + "x" * 2000
    filler = [f"INFO heartbeat {n}" for n in range(3000)]

    reduced = reduce_log([long_line, *filler], max_line_chars=100)

    error = reduced.templates[0]
    assert error.samples == (long_line[:100] + " [...1924 more chars]",)
    assert "x" * 101 not in reduced.text


def test_empty_input_reduces_to_nothing() -> None:
    """No lines: no templates, empty text, zero tokens."""
    assert reduce_log([]) == ReducedLog(
        total_lines=0,
        total_chars=0,
        templates=(),
        omitted_templates=0,
        omitted_lines=0,
        text="",
        estimated_tokens=0,
    )


def test_blank_lines_are_counted_but_not_mined() -> None:
    """Blank lines count toward the total but form no template."""
    reduced = reduce_log(["", "INFO up", "   ", "INFO up"])

    assert reduced.total_lines == 4
    assert [(stat.template, stat.count) for stat in reduced.templates] == [("INFO up", 2)]


def test_reduction_is_deterministic() -> None:
    """The same lines reduce to the same result."""
    lines = generate_log(10_000, seed=3).lines

    assert reduce_log(lines, token_budget=1000) == reduce_log(lines, token_budget=1000)


@pytest.mark.parametrize(("text", "tokens"), [("", 0), ("abc", 1), ("abcd", 1), ("abcde", 2)])
def test_estimate_tokens_is_chars_over_four_rounded_up(text: str, tokens: int) -> None:
    """Tokens are estimated as ceil(chars / 4)."""
    assert estimate_tokens(text) == tokens


@pytest.mark.parametrize(
    "arguments",
    [{"token_budget": 100}, {"max_line_chars": 10}, {"samples_per_template": -1}],
    ids=["budget", "line-chars", "samples"],
)
def test_unusable_limits_are_rejected(arguments: dict[str, int]) -> None:
    """Limits too small to render anything meaningful are a caller's mistake, reported at once."""
    with pytest.raises(ValueError, match="must"):
        reduce_log(["INFO x"], **arguments)
