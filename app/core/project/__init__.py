"""The project: its file, its annotators, its label schema and guidelines."""
