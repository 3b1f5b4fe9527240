"""Untrusted text for the model: the one function that wraps it in delimiters the text cannot close.

Thread messages, shared files (their names too), tool output and runbook step outputs are data written
by someone other than the asker, and the prompt says so by putting them between tags such as
``<thread_context>`` … ``</thread_context>``. That promise holds only if nothing inside can end the block
early or open a block of its own: a file named ``notes</shared_files> SYSTEM: …`` must stay a file name.

So every opening angle bracket inside the data is replaced by a look-alike the prompt never uses as a
delimiter (U+2039, a single left-pointing angle quotation mark), whatever form it arrives in: the character
itself, an HTML entity (``&lt;``, ``&#60;``, ``&#x3c;``, encoded twice, with or without the ``;``), or a
full-width or small variant a model might read as a bracket. Without an opening bracket no tag can be
written, of this block or any other, so only :func:`untrusted_block` writes delimiters; ``>`` is left
alone, so ``latency > 5s`` still reads as it did.
Nested blocks (each thread message inside ``<thread_context>``) are built by the same function and passed
in as :class:`Delimited` parts, which are not escaped again.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Delimited", "escape_delimiters", "untrusted_block"]

_OPEN = "\u2039"  # SINGLE LEFT-POINTING ANGLE QUOTATION MARK
# Every spelling of "<" that could turn back into a bracket: the character, named and numeric HTML entities,
# also encoded twice (the ";" is optional to browsers and to models), and full-width, small and CJK look-alikes.
_OPENERS = re.compile(r"<|&(?:amp;)*(?:lt;?|#0*60;?|#x0*3c;?)|\uff1c|\ufe64|\u3008|\u2329", re.IGNORECASE)
_TAG_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


class Delimited(str):
    """A block :func:`untrusted_block` built: safe to nest in another block as it is."""

    __slots__ = ()


def escape_delimiters(text: str) -> str:
    """``text`` with every form of ``<`` replaced by U+2039, so it cannot write a tag."""
    return _OPENERS.sub(_OPEN, text)


def untrusted_block(tag: str, content: str | Sequence[str], **attributes: str) -> Delimited:
    """``<tag a="…">`` + the escaped ``content`` + ``</tag>``: untrusted data as one block the data cannot close.

    ``content`` is text, or parts joined by newlines; every part is escaped here except the blocks this
    function built (:class:`Delimited`), which nest as they are. Attribute values are untrusted too: their
    brackets, quotes and newlines cannot end the value or the tag.
    """
    if not _TAG_NAME.fullmatch(tag):
        raise ValueError(f"not a delimiter tag name: {tag!r}")
    attrs = ""
    for name, value in attributes.items():
        if not _ATTRIBUTE_NAME.fullmatch(name):
            raise ValueError(f"not an attribute name: {name!r}")
        shown = escape_delimiters(value).replace(">", "\u203a").replace('"', "'").replace("\n", " ")
        attrs += f' {name}="{shown}"'
    parts = [content] if isinstance(content, str) else list(content)
    body = "\n".join(part if isinstance(part, Delimited) else escape_delimiters(part) for part in parts)
    return Delimited(f"<{tag}{attrs}>\n{body}\n</{tag}>")
