"""Maintenance scripts: ``lock.sh`` refreshes ``requirements.lock``, ``check_lock.py`` checks it
against ``pyproject.toml`` (run by ``.ci/run`` and ``tests/unit/test_lock.py``)."""
