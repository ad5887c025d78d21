"""Span tagging models and their evaluation."""
