"""The language-model port and its adapters.

The core talks to a :class:`ChatModel`; :class:`BedrockChatModel` is the production adapter (Converse on
aiobotocore), :class:`RetryingChatModel` adds the one retry layer, and ``agents.testing.FakeChatModel`` is
the scripted stand-in for unit tests and offline demos.
"""

from agents.llm._base import (
    ChatMessage,
    ChatModel,
    ModelReply,
    ModelRequest,
    ReplyComplete,
    StreamEvent,
    StreamRestart,
    TextDelta,
    ToolCall,
    ToolDefinition,
    ToolResult,
    Usage,
)
from agents.llm._bedrock import BedrockChatModel, bedrock_client
from agents.llm._breaker import BreakerState, CircuitBreaker
from agents.llm._retry import RetryingChatModel, RetryPolicy

__all__ = [
    "BedrockChatModel",
    "BreakerState",
    "ChatMessage",
    "ChatModel",
    "CircuitBreaker",
    "ModelReply",
    "ModelRequest",
    "ReplyComplete",
    "RetryPolicy",
    "RetryingChatModel",
    "StreamEvent",
    "StreamRestart",
    "TextDelta",
    "ToolCall",
    "ToolDefinition",
    "ToolResult",
    "Usage",
    "bedrock_client",
]
