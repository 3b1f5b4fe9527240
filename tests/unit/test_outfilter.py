"""The output filter: mentions made inert, disguised links shown with their host, secrets redacted, streams too."""

from __future__ import annotations

import re

import pytest

from agents.redaction import Redactor
from bot.outfilter import OutputFilter

KNOWN = "xoxb-1111-2222-KnownBotTokenValue"
CLEAN = OutputFilter(Redactor([KNOWN]))
ZW = "\u200b"
LIVE = re.compile(r"<[!@][^>]*>|(?<![A-Za-z0-9])[@\uff20](?:channel|here|everyone)\b", re.IGNORECASE)


@pytest.mark.parametrize(
    ("posted", "shown"),
    [
        ("<!channel>", f"@{ZW}channel"),
        ("<!here>", f"@{ZW}here"),
        ("<!here|here>", f"@{ZW}here"),
        ("<!everyone>", f"@{ZW}everyone"),
        ("<!CHANNEL>", f"@{ZW}CHANNEL"),
        ("<!subteam^S0123|@oncall>", f"@{ZW}oncall"),
        ("<!subteam^S0123>", f"@{ZW}subteam"),
        ("&lt;!channel&gt;", f"@{ZW}channel"),
        ("@channel", f"@{ZW}channel"),
        ("@Here", f"@{ZW}Here"),
        ("_@everyone_", f"_@{ZW}everyone_"),
        ("\uff20channel", f"\uff20{ZW}channel"),
    ],
)
def test_mass_mentions_become_inert_text(posted: str, shown: str) -> None:
    """Every spelling of a mass mention is shown as text Slack will not turn into a notification."""
    assert CLEAN(f"hey {posted} now") == f"hey {shown} now"


@pytest.mark.parametrize(("posted", "shown"), [("<@U0ANA>", f"@{ZW}U0ANA"), ("<@W0BEN|ben>", f"@{ZW}ben")])
def test_user_mentions_in_untrusted_text_become_plain_text(posted: str, shown: str) -> None:
    """A user mention the model or an echo carries names the person without notifying them."""
    assert CLEAN(f"ask {posted}") == f"ask {shown}"


def test_words_that_only_start_like_mentions_are_left_alone() -> None:
    """``@channels``, channel links and formatted dates are not mentions and are not changed."""
    text = "see @channels, <#C0OPS|ops> at <!date^1700000000^{date_short}|Nov 14>"
    assert CLEAN(text) == text


@pytest.mark.parametrize(
    ("posted", "shown"),
    [
        ("<https://evil.example/login|Click to re-auth>", "Click to re-auth (evil.example)"),
        ("[Click to re-auth](https://evil.example/login)", "Click to re-auth (evil.example)"),
        ('[docs](<https://evil.example/x> "AWS docs")', "docs (evil.example)"),
        ("<https://paypal.com@evil.example/|https://paypal.com>", "https://paypal.com (evil.example)"),
        ("[aws.amazon.com](https://aws.amazon.com.evil.example/)", "aws.amazon.com (aws.amazon.com.evil.example)"),
        ("<https://p\u0430ypal.com/|paypal.com>", "paypal.com (xn--pypal-4ve.com)"),
        ("![status](https://evil.example/pixel.png)", "status (evil.example)"),
        ("<mailto:ceo@evil.example|support@aws.com>", "support@aws.com (ceo@evil.example)"),
        ("<https://evil.example|<!here>>", f"@{ZW}here (evil.example)"),
    ],
)
def test_disguised_links_show_their_real_host(posted: str, shown: str) -> None:
    """A link whose label is not where it goes is shown as its label and its real host, not as a link."""
    assert CLEAN(f"Please {posted} today") == f"Please {shown} today"


@pytest.mark.parametrize(
    "honest",
    [
        "<https://console.aws.amazon.com/cloudwatch/>",
        "<https://status.aws.amazon.com/|status.aws.amazon.com>",
        "<https://www.example.com/|example.com>",
        "[https://example.com/a](https://example.com/a)",
        "[example.com](https://example.com/path)",
        "<mailto:ops@example.com|ops@example.com>",
    ],
)
def test_honest_links_stay_links(honest: str) -> None:
    """A link that shows its own URL or host is left as it is."""
    assert CLEAN(f"see {honest}") == f"see {honest}"


def test_secrets_are_redacted_before_posting() -> None:
    """The process's own tokens (by value) and secret patterns are replaced before anything is shown."""
    shown = CLEAN(f"token {KNOWN} and key AKIAIOSFODNN7EXAMPLE in <https://x.example/?k={KNOWN}|the console>")
    assert KNOWN not in shown
    assert "AKIAIOSFODNN7EXAMPLE" not in shown
    assert "[REDACTED" in shown
    assert "the console (x.example)" in shown


def test_filtering_twice_changes_nothing_more() -> None:
    """Filtered text is a fixed point, so the layers that filter again (final edits) show the same thing."""
    once = CLEAN(f"<!channel> [x](https://evil.example) <@U1> {KNOWN} @here <https://a.example|a.example>")
    assert CLEAN(once) == once


def test_blocks_have_every_text_filtered() -> None:
    """Section, markdown and context texts inside blocks are filtered; ids and types are not touched."""
    blocks = [
        {"type": "markdown", "text": "<!channel> hi"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "<!here>"}, "block_id": "b1"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "routed: <@U1>"}]},
    ]
    text, filtered = CLEAN.message("<!everyone>", blocks)
    assert text == f"@{ZW}everyone"
    assert filtered == [
        {"type": "markdown", "text": f"@{ZW}channel hi"},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"@{ZW}here"}, "block_id": "b1"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"routed: @{ZW}U1"}]},
    ]
    assert blocks[0]["text"] == "<!channel> hi"  # the caller's blocks are not changed in place


def _streamed(pieces: list[str]) -> str:
    stream = CLEAN.stream()
    shown = "".join(stream.feed(piece) for piece in pieces) + stream.finish()
    assert not stream.diverged
    return shown


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16])
def test_a_stream_cut_anywhere_shows_what_the_whole_text_shows(size: int) -> None:
    """Mentions, links and secrets cut across pieces are filtered exactly as if they had arrived whole."""
    text = (
        "Alert <!channel> and <!subteam^S1|@sre>: <https://evil.example/login|Click to re-auth> or "
        f"[open it](https://evil.example/x). Key AKIAIOSFODNN7EXAMPLE, token {KNOWN} ping @here.\n\n"
        "Second paragraph, <@U0ANA> and @everyone.\n\nThe key:\n-----BEGIN RSA PRIVATE KEY-----\n"
        "Proc-Type: 4,ENCRYPTED\n\nMIIEpAIBAAKCAQEAbody\n-----END RSA PRIVATE KEY-----\n\nDone <!here>."
    )
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    shown = _streamed(pieces)
    assert shown == CLEAN(text)
    assert not LIVE.search(shown)
    assert "MIIEpAIBAAKCAQEAbody" not in shown  # the key's blank line did not split it from its BEGIN line


def test_a_stream_filters_only_when_asked() -> None:
    """``add`` collects without filtering; ``ready`` releases what is safe; ``waiting`` counts the rest."""
    stream = CLEAN.stream()
    stream.add("one <!here> two")
    assert stream.waiting == len("one <!here> two")
    assert stream.ready() == f"one @{ZW}here "
    assert stream.waiting == len("two")
    assert stream.finish() == "two"


def test_a_stream_holds_back_only_the_unfinished_tail() -> None:
    """What cannot change any more is released at once; an unfinished mention or link waits for its end."""
    stream = CLEAN.stream()
    assert stream.feed("Hello team, <!chan") == "Hello team, "
    assert stream.feed("nel> see [the") == f"@{ZW}channel see "
    assert stream.feed(" page](https://evil.example/p)\n") == "the page (evil.example)\n"
    assert stream.feed("bye") == ""
    assert stream.finish() == "bye"


def test_a_stream_whose_released_text_would_change_reports_it() -> None:
    """If a later piece changes how released text reads (a secret with a space), the stream says it diverged."""
    clean = OutputFilter(Redactor(["open sesame please"]))
    stream = clean.stream()
    stream.feed("say open sesame ")
    stream.feed("please now ")
    assert stream.diverged
    assert stream.finish() == ""  # nothing more is released; the caller rewrites the message whole
    assert clean("say open sesame please now ") == "say [REDACTED] now "


def test_untrusted_text_cannot_produce_a_live_mention_through_any_combination() -> None:
    """Nesting, entities and mixed brackets never leave a live mention behind."""
    tricky = [
        "<<!channel>>",
        "<!chan<!here>nel>",
        "&lt;<!here>&gt;",
        "<https://x.example|<@U1>>",
        "[<!everyone>](https://x.example)",
        "<!here&gt;",
        "@@here",
    ]
    for text in tricky:
        assert not LIVE.search(CLEAN(text)), (text, CLEAN(text))
