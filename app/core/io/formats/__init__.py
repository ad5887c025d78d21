"""File formats for import and export, one module each (issue #13); the registry of them is
built here by app.core.io.formats.registry."""
