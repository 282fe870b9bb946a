"""Evaluation harness: gold sets (data, reviewed like code), pure metrics, reports.

::

    gold.py               eval/gold/*.jsonl -> GoldItem (strict validation), normalise()
    retrieval_metrics.py  hit@k, recall@k, MRR, nDCG over ranked slide ids
    answer_metrics.py     phrase matching, key facts, forbidden phrases, citations, abstention
    stats.py              the one percentile (nearest rank), mean, ratio
    metrics.py            score_question() (pass rule) and aggregate() into a Summary
    tables.py             the cells every rendering shares
    text_report.py        summary.md and the terminal table
    html_report.py        the self-contained report.html
    report.py             results.json and writing the run's files
    runner.py             questions through a pipeline or a running service -> observations
    calibrate.py          the abstention threshold fitted on the dev set
    gate.py               the CI gate: thresholds.json and the baseline
    threads*.py, thread_*.py  the follow-up threads: gold, runner, metrics, report

Nothing here reads the environment, prints, or loads a model: the runner feeds it plain data.
"""
