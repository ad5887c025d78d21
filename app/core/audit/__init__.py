"""The audit trail: hash-chained events (app.core.audit.chain) and the history of an item
(app.core.audit.history).

The chain's verbs are named here too, so that the modules that write events read
`from app.core import audit` and `audit.record(...)`: an audit record, with no alias.
"""

from app.core.audit.chain import (
    VerifyReport,
    last_task_id,
    link_pending,
    record,
    record_tasks,
    verify_chain,
    verify_connection,
)

__all__ = [
    "VerifyReport",
    "last_task_id",
    "link_pending",
    "record",
    "record_tasks",
    "verify_chain",
    "verify_connection",
]
