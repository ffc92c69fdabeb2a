"""The agent desktop, the online-banking teaser view and the omnichannel report.

A channel frontend like any other, served by ``impulse-stream desk`` beside the
workers (:mod:`impulse_stream.desk.server`): it reads the worker's store,
writes responses to the topics and follows them. The reference for a team
that builds its own client on the topic contract.
"""
