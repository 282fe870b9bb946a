"""Token counting: the only module that imports tiktoken.

Chunks are bounded in tiktoken tokens (``cl100k_base`` by default). tiktoken
downloads its encoding files on first use; with no network and no cache
(``TIKTOKEN_CACHE_DIR``) that fails, and the product must still work: the caller
passes a fallback counter (the embedding model's own tokenizer), a warning is
logged once, and the counter's ``name`` (recorded in the index manifest) says
which one was used, so an index built either way is rebuilt when the other
becomes available.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens of a text; ``name`` identifies the tokenizer for the manifest."""

    name: str
    count: Callable[[str], int]


_warned: set[str] = set()


def load_token_counter(encoding: str, fallback: TokenCounter) -> TokenCounter:
    """The tiktoken ``encoding`` if it can be loaded offline, else ``fallback`` (warned once)."""
    try:
        import tiktoken

        enc = tiktoken.get_encoding(encoding)
    except Exception as exc:  # tiktoken raises requests/OS/value errors when offline
        if encoding not in _warned:
            _warned.add(encoding)
            log.warning(
                "tiktoken encoding %r unavailable (%s); counting chunk tokens with %s instead. "
                "Set TIKTOKEN_CACHE_DIR to a folder holding the encoding to use tiktoken.",
                encoding,
                type(exc).__name__,
                fallback.name,
            )
        return fallback
    return TokenCounter(f"tiktoken:{encoding}", lambda text: len(enc.encode(text, disallowed_special=())))
