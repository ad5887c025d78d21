"""The audit trail: hash-chained events and the history of an item."""
