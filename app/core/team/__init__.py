"""Team work: tasks, assignment of work to annotators, and review."""
