"""Quality: consensus and adjudication, agreement statistics, gold and qualification."""
