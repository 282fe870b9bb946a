"""Evaluation harness: gold sets (data, reviewed like code), pure metrics, reports.

::

    gold.py     eval/gold/*.jsonl -> GoldItem (strict validation), normalise()
    metrics.py  retrieval, fact, citation and abstention metrics; score_question(); aggregate()
    report.py   results.json, summary.md, a self-contained report.html, a terminal table

Nothing here reads the environment, prints, or loads a model: the runner feeds it plain data.
"""
