"""Prototypes measured by the bench, not part of the product (docs/bench.md, "towards 0.5x")."""
