"""Offline question answering over seller guidance, with cited sources.

The public entry point is :class:`rag.pipeline.Pipeline`; the stages live in the
modules named after what they own (see the README's architecture section).
"""

__version__ = "0.1.0"
