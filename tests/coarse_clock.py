"""A pytest plugin that makes the app's clock coarse, to find tests that assume two writes land
in different milliseconds (the class of CI flake fixed in session 7).

    pytest -p tests.coarse_clock tests/unit        # TAGLOOP_CLOCK_GRAIN_MS=50 by default

Timestamps come from app.core.ids.now_iso (millisecond resolution). With a 50 ms grain, writes
a few milliseconds apart share one stamp, so a test that means "later" without making sure of
it fails often instead of once in a few hundred CI runs; ties broken by a random UUID show up
about every other run. Spawned worker processes keep the real clock.
"""

from __future__ import annotations

import os
from datetime import datetime

import app.core.ids as ids

GRAIN_MS = int(os.environ.get("TAGLOOP_CLOCK_GRAIN_MS", "50"))


class _CoarseDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        now = datetime.now(tz)
        ms = (now.microsecond // 1000) // GRAIN_MS * GRAIN_MS
        return now.replace(microsecond=ms * 1000)


ids.datetime = _CoarseDatetime  # type: ignore[misc]  # now_iso and stamp_after read it
