"""The bundle container (a zip of JSON Lines members and a manifest, optionally encrypted)."""

from app.core.bundle.container.reader import (
    DEFAULT_LIMITS,
    FORMAT_VERSION,
    SUFFIX,
    BundleReader,
    BundleWriter,
    Limits,
)

__all__ = ["DEFAULT_LIMITS", "FORMAT_VERSION", "SUFFIX", "BundleReader", "BundleWriter", "Limits"]
