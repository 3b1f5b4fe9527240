"""The output filter: what the bot posts but did not write passes through here before Slack sees it.

Model output, echoed task text, file names, tool data and error details quoting a person are untrusted
when posted: a model (or whoever wrote what it read) can ask for ``<!channel>``, and a person's own
``<!channel>`` in a slash command must not come back live in the bot's parent message. One filter does:

* **secrets**: the configured :class:`~agents.redaction.Redactor` (the bot's own tokens and the patterns);
* **mass mentions**: ``<!channel>``, ``<!here>``, ``<!everyone>``, ``<!subteam^…>`` (labelled or not, also
  entity-encoded) and the bare words ``@channel``/``@here``/``@everyone`` (which ``link_names`` and
  ``parse=full`` turn into mentions) become inert text: a zero-width space after the ``@``;
* **user mentions**: ``<@U…>`` becomes plain ``@name`` text; only the bot's own templates mention anyone;
* **disguised links**: ``<https://evil.example/x|Click to re-auth>`` and ``[Click to re-auth](https://evil.example/x)``
  whose label is not their host become ``Click to re-auth (evil.example)``; honest links stay links.

Streams are filtered as they grow (:class:`StreamFilter`): text is released only up to a point where no
mention, link or secret can still be completed by the next piece, so a ``<!chan`` + ``nel>`` split
across two appends is caught like a whole one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from agents.redaction import Redactor

__all__ = ["OutputFilter", "StreamFilter"]

_ZWSP = "\u200b"
# A Slack control sequence, "<…>", also entity-encoded ("&lt;…&gt;"), as a model may write it.
_TOKEN = re.compile(r"(?:<|&lt;)((?:(?!&gt;)[^<>\n]){1,2000})(?:>|&gt;)")
# [label](url) or ![alt](url), the url optionally in <…> and followed by a "title".
_MD_LINK = re.compile(r"!?\[([^\[\]\n]{0,1000})\]\(\s*<?([^\s()<>]{1,2000})>?(?:\s+\"[^\"\n]*\")?\s*\)")
_MASS_WORD = re.compile(r"[@\uff20](?=(?:channel|here|everyone)(?![a-z0-9]))", re.IGNORECASE)
_MAX_PASSES = 3  # nested markup ("<url|<!here>>") unwraps one level per pass


def _inert(name: str) -> str:
    """``@name`` that Slack will not turn into a mention."""
    return "@" + _ZWSP + name.lstrip("@\uff20")


def _host(url: str) -> str:
    """What a reader should see of ``url``: its host (punycode for look-alike Unicode), or the address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        return url.removeprefix("mailto:")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _honest(label: str, url: str) -> bool:
    """Whether ``label`` shows where ``url`` goes: empty, the URL itself, or its host."""
    shown = label.strip().lower()
    if not shown:
        return True
    bare, target = _bare(shown), _bare(url.lower())
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return bare == target or (bool(host) and bare == host)


def _bare(address: str) -> str:
    """``address`` without its scheme, ``www.`` and trailing slash, for comparing a label with a URL."""
    return re.sub(r"^(?:[a-z][a-z0-9+.-]*://|mailto:)", "", address).removeprefix("www.").rstrip("/")


def _slack_token(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("!"):
        command = target[1:]
        if command.startswith("date^"):
            return match.group(0)  # a formatted date: shown, never notifies
        return _inert(label or command.split("^", 1)[0])
    if target.startswith("@"):
        return _inert(label or target[1:])
    if target.startswith("#") or not label:
        return match.group(0)  # a channel link, or a URL shown as itself
    if _honest(label, target):
        return match.group(0)
    return f"{label} ({_host(target)})"


def _md_link(match: re.Match[str]) -> str:
    label, url = match.group(1), match.group(2)
    if _honest(label, url) and not match.group(0).startswith("!"):
        return match.group(0)
    return f"{label or url} ({_host(url)})"


class OutputFilter:
    """Makes untrusted text safe to post: secrets redacted, mentions inert, links showing their real host."""

    def __init__(self, redactor: Redactor) -> None:
        self._redact = redactor

    def __call__(self, text: str) -> str:
        """``text`` as the bot may post it."""
        text = self._redact(text)
        for _ in range(_MAX_PASSES):
            before = text
            text = _MD_LINK.sub(_md_link, _TOKEN.sub(_slack_token, text))
            if text == before:
                break
        return _MASS_WORD.sub(lambda m: m.group(0) + _ZWSP, text)

    def blocks(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Block Kit ``blocks`` with every ``text`` in them filtered (section, markdown, context, …)."""
        return [self._walk(block) for block in blocks]

    def message(self, text: str, blocks: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
        """A whole message, fallback ``text`` and ``blocks``, filtered."""
        return self(text), self.blocks(blocks)

    def _walk(self, node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(value, str) and key in {"text", "alt_text", "title"}:
                out[key] = self(value)
            elif isinstance(value, dict):
                out[key] = self._walk(value)
            elif isinstance(value, list):
                out[key] = [self._walk(v) if isinstance(v, dict) else v for v in value]
            else:
                out[key] = value
        return out

    def stream(self) -> StreamFilter:
        """A filter for one streamed answer, fed piece by piece."""
        return StreamFilter(self)


class StreamFilter:
    """Filters a text that arrives in pieces, releasing only what the next piece cannot change.

    :meth:`add` only collects; :meth:`ready` filters and returns what can be shown now, so a caller that
    sends twice a second filters twice a second, not once per token. The text since the last paragraph
    break (a blank line, outside a private key block) is filtered whole each time, so a secret or link completed
    by a later piece is seen whole; mentions and links never span a line, so paragraphs are filtered apart.
    Text is held back after the last whitespace, and from any ``<`` or ``[`` on the current line that is not
    closed yet. Should filtering the longer text ever change what was already released, :attr:`diverged`
    is set: the caller must then rewrite the whole message with ``OutputFilter(full_text)`` instead.
    """

    def __init__(self, clean: OutputFilter) -> None:
        self._clean = clean
        self._raw = ""
        self._anchor = 0  # raw index of the paragraph being filtered; all before it is released and final
        self._done = 0  # how much of the raw text has been released
        self._sent = ""  # the filtered text released since the anchor
        self.diverged = False

    @property
    def waiting(self) -> int:
        """Characters taken but not released yet."""
        return len(self._raw) - self._done

    def add(self, text: str) -> None:
        """Take the next piece (filtered at the next :meth:`ready` or :meth:`finish`)."""
        self._raw += text

    def ready(self) -> str:
        """The filtered text that can be shown now (maybe empty)."""
        return self._release(_safe_cut(self._raw, self._done))

    def feed(self, text: str) -> str:
        """:meth:`add` then :meth:`ready`."""
        self.add(text)
        return self.ready()

    def finish(self) -> str:
        """The end of the text (or of one model turn): release everything still held."""
        return self._release(len(self._raw))

    def _release(self, cut: int) -> str:
        if cut <= self._done or self.diverged:
            return ""
        self._done = cut
        cleaned = self._clean(self._raw[self._anchor : cut])
        if not cleaned.startswith(self._sent):
            self.diverged = True
            return ""
        new = cleaned[len(self._sent) :]
        self._sent = cleaned
        self._advance(cut)
        return new

    def _advance(self, cut: int) -> None:
        """Move the anchor to the last paragraph break released, when the text before it reads the same alone."""
        paragraph = self._raw.rfind("\n\n", self._anchor, cut)
        if paragraph < 0:
            return
        head = self._raw[self._anchor : paragraph + 2]
        if head.rfind("-----BEGIN") > head.rfind("-----END"):
            return  # inside a private key block: keep it whole for the redactor
        cleaned = self._clean(head)
        if self._sent.startswith(cleaned):
            self._anchor, self._sent = paragraph + 2, self._sent[len(cleaned) :]


def _safe_cut(text: str, done: int) -> int:
    """Where ``text`` can be cut without splitting a word, a ``<…>`` sequence, a ``[…](…)`` link or a PEM header.

    Nothing before ``done`` (already released) is looked at again.
    """
    cut = max(text.rfind(" ", done), text.rfind("\n", done), text.rfind("\t", done)) + 1
    if cut <= done:
        return done
    line_start = max(text.rfind("\n", 0, cut) + 1, done)
    opener = max(text.rfind("<", line_start, cut), text.rfind("&lt;", line_start, cut))
    if opener >= 0 and not re.search(r">|&gt;", text[opener:cut]):
        cut = opener
    begin = text.rfind("-----BEGIN", line_start, cut)
    if begin >= 0:
        cut = begin  # a PEM header has spaces in it: the redactor needs the whole line
    bracket = text.rfind("[", line_start, cut)
    if bracket >= 0:
        link = _MD_LINK.match(text, bracket) or _MD_LINK.match(text, max(bracket - 1, 0))
        if link is None or link.end() > cut:
            cut = bracket  # a link not finished before the cut: wait for its end
    return cut
