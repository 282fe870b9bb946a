"""The one error tree of the project.

::

    RagError                      base: anything the caller can act on
    ├── ConfigError               a setting has a bad value (RAG_* variable, calibration file)
    ├── DependencyError           an optional package is missing (message has the install hint)
    ├── CorpusError               the corpus folder or a file in it cannot be read
    ├── ModelError                the embedding model cannot be loaded or fails verification
    ├── IndexError_               base for index problems
    │   ├── IndexNotFoundError    no built index where one was expected
    │   ├── IndexMismatchError    the index was built from other settings/corpus (stale)
    │   ├── IndexCorruptError     an index file is missing, truncated or unreadable
    │   └── StoreError            the PostgreSQL store (RAG_STORE) is unreachable, lacks pgvector or failed
    ├── InvalidQuestionError      the question is empty, blank, too long or not text
    ├── FeedbackError             rag.feedback: the feedback store cannot be opened, written or read
    ├── ApiError                  api.errors: an HTTP error answered on purpose (status, code, message)
    ├── _Abandoned                api.overload, private: a worker thread's call whose caller left
    ├── GoldError                 eval.gold: a gold file or record is invalid (also a ValueError)
    ├── HarnessError              eval.runner: the evaluation could not run (service unreachable)
    └── HttpError                 bench.http1: the benchmark client's transport or framing failure

The classes after ``InvalidQuestionError`` are defined where they are raised, outside this
module (``rag/`` never imports ``api/`` or ``eval/``), and derive from :class:`RagError`
here. "Nothing relevant found" is not an error: it is an :class:`~rag.datatypes.Answer`
that abstains. Messages say what happened, the offending value and the fix.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(RagError):
    """A setting has an invalid value."""


class DependencyError(RagError):
    """An optional dependency is not installed; the message says how to install it."""


class CorpusError(RagError):
    """The corpus folder or one of its files cannot be read."""


class ModelError(RagError):
    """The embedding model cannot be loaded, or its weights fail verification."""


class IndexError_(RagError):  # the trailing underscore avoids shadowing the builtin
    """Base class for problems with the built index."""


class IndexNotFoundError(IndexError_):
    """No index has been built at the configured location."""


class IndexMismatchError(IndexError_):
    """The index on disk was built from other settings or another corpus."""


class IndexCorruptError(IndexError_):
    """An index artifact is missing, truncated or cannot be parsed."""


class InvalidQuestionError(RagError):
    """The question cannot be answered as given (empty, blank, too long, not text)."""


class StoreError(IndexError_):
    """The shared PostgreSQL store (``RAG_STORE``) cannot be reached, lacks the pgvector
    extension, or refused a query. The message names the server without its password."""
