"""Read-only tools agents may call, and the small surface they are built on.

A tool is data plus one async function: :class:`Tool` holds its name, description and JSON input schema
(what Bedrock's ``toolConfig`` needs), a human label for the data source, a progress line, and ``run``.
Tools never write: there is no shell, no arbitrary URL fetch, and no AWS API that changes anything.
"""

from agents.tools._base import Tool, ToolContext, ToolOutput, Toolset

__all__ = ["Tool", "ToolContext", "ToolOutput", "Toolset"]
