"""AWS actions with a person in the loop: approval requests, the gate that makes them, and their decisions.

The model can only *propose* an action. :class:`ApprovalGate` (the hook before every tool call) turns
an action call into a pending :class:`Approval`, bound to the task, the tool call and a hash of the exact
parameters, and suspends the task; the edge shows it as an action card. :class:`ApprovalDesk` decides a
click (every check on the server, a single-use compare-and-set in the store), expires what nobody
decided, and runs the task again so the gate honours the decision. Stores: :class:`MemoryApprovals`,
:class:`SqliteApprovals`, :class:`RedisApprovals`.
"""

from agents.approvals._desk import ApprovalCards, ApprovalDesk, Choice, Decided, Refused
from agents.approvals._gate import ApprovalGate, expired_reason, rejected_reason
from agents.approvals._record import APPROVAL_ID, Approval, State, canonical, new_approval_id, params_hash
from agents.approvals._redis import RedisApprovals
from agents.approvals._sqlite import SqliteApprovals
from agents.approvals._store import ApprovalStore, MemoryApprovals

__all__ = [
    "APPROVAL_ID",
    "Approval",
    "ApprovalCards",
    "ApprovalDesk",
    "ApprovalGate",
    "ApprovalStore",
    "Choice",
    "Decided",
    "MemoryApprovals",
    "RedisApprovals",
    "Refused",
    "SqliteApprovals",
    "State",
    "canonical",
    "expired_reason",
    "new_approval_id",
    "params_hash",
    "rejected_reason",
]
