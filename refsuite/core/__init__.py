"""The plugin-agnostic framework: units and their registry (``registry``), entry-point discovery
(``discovery``), devices (``devices``), what a check receives (``context``), comparisons
(``tolerance``) and their per-kind summaries (``comparisons``), hypothesis profiles and strategies (``profiles``, ``strategies``), run records and
their comparison (``records``, ``compare``), errors (``errors``), the cache (``cache``) and a
file lock that says when it waits (``locks``), and each parallel test process's share of the
cores and devices (``budgets``), and Ctrl-C that a swallowed KeyboardInterrupt cannot lose
(``interrupts``).

Nothing here imports the tutorial or anything else built on the framework; tests/test_layout.py
checks that with import-linter (the contracts are in pyproject.toml).
"""
