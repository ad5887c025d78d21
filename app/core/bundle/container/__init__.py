"""The bundle container: a zip of JSON Lines members and a manifest, optionally encrypted.

- manifest: the layout, member names, format version, and the manifest's checks;
- limits: caps on sizes, counts and ratios, and safe member names;
- writer: BundleWriter, streaming members into an atomically published file;
- reader: BundleReader, verifying the whole file before any row is read.
"""

from app.core.bundle.container.limits import DEFAULT_LIMITS, Limits
from app.core.bundle.container.manifest import FORMAT_VERSION, SUFFIX
from app.core.bundle.container.reader import BundleReader
from app.core.bundle.container.writer import BundleWriter

__all__ = ["DEFAULT_LIMITS", "FORMAT_VERSION", "SUFFIX", "BundleReader", "BundleWriter", "Limits"]
