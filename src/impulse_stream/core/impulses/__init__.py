"""Impulse detectors: one small named unit per sales or service moment.

Each detector is a class in its own file that declares its impulse kind, its
trigger (an event, a deadline, a calendar day), the events it listens to and
its parameters (``base.py`` has the contract); ``registry.py`` lists them in
the order they run. A detector reads its parameters from the catalogue
(``detectors.<kind>``) and returns ``Detection`` values; the engine turns them
into ``Impulse`` records, applies the dedupe window (``repeat_after_days``)
and opens opportunities.
"""
