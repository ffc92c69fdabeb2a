"""Benchmarks of the worker against a raw aiokafka passthrough on one local broker.

``python -m bench.run`` (``make bench``); the method and the latest figures are
in docs/bench.md.
"""
