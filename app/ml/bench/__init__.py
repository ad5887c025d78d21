"""al-bench: simulated active learning on a labeled file."""
