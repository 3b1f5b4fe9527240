"""Prints the injection corpus's figures at the end of the run (figures for the closing note)."""

from __future__ import annotations

import pytest

from tests.injection.test_corpus import CONTROL, SUMMARY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The corpus run's counts, per place and per category."""
    if SUMMARY:
        terminalreporter.write_sep("-", "injection corpus")
        for line in SUMMARY + CONTROL:
            terminalreporter.write_line(line)
