"""Fuzz corpora and their runners: hostile import files (import_*), hostile bundles."""
