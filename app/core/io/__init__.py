"""Data in and out: file readers, the importer, exports, datasets and the demo project."""
