"""Impulse detectors: one small named unit per sales or service moment.

Every detector reads its parameters from the catalogue (``detectors.<kind>``)
and returns ``Detection`` values; the engine turns them into ``Impulse``
records, applies the dedupe window (``repeat_after_days``) and opens
opportunities.
"""

from impulse_stream.core.impulses.base import Detection

__all__ = ["Detection"]
