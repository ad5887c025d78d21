"""The `tagloop` command line."""
