"""Quality windows: review, adjudication, suspicious labels, gold and item history."""
