"""``refsuite bench``: pytest-benchmark runs of the conv/pool hot path, summarised as one table."""
