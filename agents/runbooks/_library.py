"""The runbooks a deployment offers: the built-ins, overridden by the team's directory, reloaded on change.

:class:`RunbookLibrary` holds the last good set and the problems of the last load. A broken file never
stops the others: it is left out (a built-in of the same name stays) and its problems are kept for the
log, ``orch-bot doctor`` and ``/orchestrate runbooks`` (admins). :meth:`RunbookLibrary.watch` polls the
directory's files' modification times (every 2 s by default); :meth:`RunbookLibrary.reload` is also what
SIGHUP calls.
"""

from __future__ import annotations

import asyncio
import difflib
from importlib import resources
from typing import TYPE_CHECKING

import structlog

from agents.runbooks._loader import LoadProblem, load_runbook_text, read_runbook_file

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection
    from pathlib import Path

    from agents.runbooks._model import Runbook

__all__ = ["RunbookLibrary", "builtin_runbooks", "check_directory", "listing"]

log = structlog.get_logger(__name__)


def builtin_runbooks(agents: frozenset[str]) -> dict[str, Runbook]:
    """The runbooks shipped in the package (they are tested to load without problems)."""
    found: dict[str, Runbook] = {}
    folder = resources.files("agents.runbooks") / "builtin"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        runbook, problems = load_runbook_text(entry.read_text("utf-8"), path=f"builtin/{entry.name}", agents=agents)
        for problem in problems:  # pragma: no cover - a shipped file that does not load is a bug the tests catch
            log.error("runbook.builtin_invalid", problem=str(problem))
        if runbook is not None:
            found[runbook.name] = runbook
    return found


def check_directory(directory: Path, *, agents: frozenset[str]) -> tuple[dict[str, Runbook], list[LoadProblem]]:
    """Load every ``*.yaml``/``*.yml`` file of ``directory``: the runbooks that loaded and every problem."""
    loaded: dict[str, Runbook] = {}
    origin: dict[str, str] = {}
    problems: list[LoadProblem] = []
    if not directory.is_dir():
        return {}, [LoadProblem(str(directory), 0, "not a directory")]
    for file in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        runbook, found = read_runbook_file(file, agents=agents)
        problems += found
        if runbook is None:
            continue
        if runbook.name in loaded:
            problems.append(
                LoadProblem(str(file), 1, f"name: {runbook.name!r} is already defined in {origin[runbook.name]}")
            )
            continue
        loaded[runbook.name] = runbook
        origin[runbook.name] = str(file)
    return loaded, problems


class RunbookLibrary:
    """The current runbooks by name, and the problems of the last load."""

    def __init__(self, *, agents: frozenset[str], directory: Path | None = None) -> None:
        self._agents = agents
        self._directory = directory
        self._builtins = builtin_runbooks(agents)
        self._runbooks: dict[str, Runbook] = dict(self._builtins)
        self._problems: list[LoadProblem] = []
        self._stamp: tuple[tuple[str, int, int], ...] = ()
        self.reload()

    @property
    def problems(self) -> tuple[LoadProblem, ...]:
        """The problems of the last load (files left out, or left at their last good version)."""
        return tuple(self._problems)

    @property
    def directory(self) -> Path | None:
        """The team's directory (``ORCH_RUNBOOKS_DIR``), if one is configured."""
        return self._directory

    def all(self) -> tuple[Runbook, ...]:
        """Every runbook, by name."""
        return tuple(self._runbooks[name] for name in sorted(self._runbooks))

    def get(self, name: str) -> Runbook | None:
        """The runbook called ``name``, if there is one."""
        return self._runbooks.get(name)

    def closest(self, name: str) -> str | None:
        """The name most like ``name`` (for "did you mean"), if one is close enough."""
        matches = difflib.get_close_matches(name, list(self._runbooks), n=1, cutoff=0.5)
        return matches[0] if matches else None

    def reload(self) -> bool:
        """Load the directory again; whether anything changed. A broken file keeps none of its runbooks."""
        if self._directory is None:
            return False
        self._stamp = self._fingerprint()
        loaded, problems = check_directory(self._directory, agents=self._agents)
        before = self._runbooks
        self._runbooks = {**self._builtins, **loaded}
        self._problems = problems
        for problem in problems:
            log.warning("runbook.invalid", problem=str(problem))
        changed = before != self._runbooks
        if changed:
            log.info("runbook.loaded", runbooks=sorted(self._runbooks), problems=len(problems))
        return changed

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        if self._directory is None or not self._directory.is_dir():
            return ()
        stamps = []
        for file in sorted([*self._directory.glob("*.yaml"), *self._directory.glob("*.yml")]):
            try:
                stat = file.stat()
            except OSError:
                continue
            stamps.append((file.name, stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def changed_on_disk(self) -> bool:
        """Whether a file was added, removed or modified since the last load."""
        return self._directory is not None and self._fingerprint() != self._stamp

    async def watch(self, *, every: float = 2.0, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Reload whenever the directory changes, until cancelled."""
        while True:
            await sleep(every)
            if self.changed_on_disk():
                self.reload()  # a few small files: read inline, between two polls


def listing(library: RunbookLibrary, *, problems: bool = False, only: Collection[str] | None = None) -> str:
    """Each runbook with its description, parameters and an example, as Markdown; ``problems`` for admins.

    ``only``: the runbooks to list (those the policy lets this person run here); ``None``: all.
    """
    lines = ['Runbooks: run one with `run <runbook> key=value …` (quote values with spaces: `note="two words"`).']
    shown = [runbook for runbook in library.all() if only is None or runbook.name in only]
    if not shown:
        lines = ["There are no runbooks you may run here. An admin can grant them in orch's policy."]
    for runbook in shown:
        lines.append(f"\n*{runbook.name}*: {runbook.description or '(no description)'}")
        for key, spec in runbook.params.items():
            facts = [spec.type, "required" if spec.required else "optional"]
            if spec.default is not None:
                facts.append(f"default {spec.default}")
            if spec.choices:
                facts.append("one of " + ", ".join(str(c) for c in spec.choices))
            if spec.min is not None or spec.max is not None:
                low = spec.min if spec.min is not None else "…"
                high = spec.max if spec.max is not None else "…"
                facts.append(f"from {low} to {high}")
            about = f": {spec.description}" if spec.description else ""
            lines.append(f"• `{key}` ({', '.join(facts)}){about}")
        lines.append(f"e.g. `{runbook.example()}`")
    if problems and library.problems:
        lines.append("\n:warning: Files that did not load (only admins see this):")
        lines += [f"• `{problem}`" for problem in library.problems]
    return "\n".join(lines)
