"""The data engineer's tools: synthetic bank data, topic export, backtest reports.

- :mod:`.generate` writes a reproducible synthetic bank month on the six input
  topics (files or Kafka);
- :mod:`.export` copies a time or offset range of topics to JSON Lines or Parquet;
- :mod:`.recording` reads and writes the recorded-message rows both produce;
- :mod:`.backtest` replays recordings through the worker's batch path with two
  catalogues, :mod:`.report` compares the runs and renders the comparison
  (terminal table, JSON, self-contained HTML with :mod:`.svg` charts).
"""
