"""Team windows: annotators and assignments, and bundle dialogs."""
