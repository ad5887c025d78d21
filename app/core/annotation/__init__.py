"""Annotating: undoable commands, worklists, browsing, search, counts and span tokens."""
