"""Qt widgets shared across windows."""
