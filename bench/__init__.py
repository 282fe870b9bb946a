"""Benchmarks of the service: ``python bench/run.py`` (see bench/README.md).

``load.py`` is the stand-alone load client; the other modules are the parts of the
one-shot benchmark run: ``stats`` (percentiles, /proc readings), ``questions``,
``synthetic`` (clustered vectors, recall), ``encode``, ``server``, ``http_load``,
``scale``, ``report`` and ``run``.
"""
