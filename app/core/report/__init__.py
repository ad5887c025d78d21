"""The project report: its figures, and their rendering as SVG and HTML."""
