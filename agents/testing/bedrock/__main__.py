"""``python -m agents.testing.bedrock``: see :mod:`agents.testing.bedrock.cli`."""

from agents.testing.bedrock.cli import run_cli

run_cli()
