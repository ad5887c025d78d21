"""The project dashboard."""
