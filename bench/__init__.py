"""Benchmarks of the service: ``python bench/run.py`` (see bench/README.md).

``load.py`` is the stand-alone load client; the other modules are the parts of the
one-shot benchmark run: ``stats`` (latency summaries, /proc readings; the percentile
itself is :func:`eval.stats.percentile`), ``questions``, ``synthetic`` (clustered vectors,
recall), ``encode``, ``server`` (a real ``rag serve`` child on loopback, also the e2e
tests' harness), ``http_load``, ``scale``, ``report`` and ``run``.
"""
