"""Read-only tools agents may call, and the small surface they are built on.

A tool is data plus one async function: :class:`Tool` holds its name, description, typed input model
(from which the JSON schema Bedrock's ``toolConfig`` needs is derived), its effect, a human label for the
data source, a progress line, and ``run``. A :class:`Toolset` adds what its tools need from AWS: the IAM
actions they call and a :class:`Probe` per data source for ``orch-bot doctor``. Every tool today reads:
there is no shell, no arbitrary URL fetch, and no AWS API that changes anything.
"""

from agents.tools._base import Effect, FileSource, Tool, ToolContext, ToolOutput, Toolset
from agents.tools._params import ToolInput
from agents.tools._probe import Probe

__all__ = ["Effect", "FileSource", "Probe", "Tool", "ToolContext", "ToolInput", "ToolOutput", "Toolset"]
