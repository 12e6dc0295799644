"""What the tutorial teaches, as reusable code: its printed outputs and RNG replay (``golden``),
its two networks (``nets``), its data path (``data``), training (``training``), evaluation
(``evaluation``) and the conv/pool hot path in stages (``hotpath``).

Nothing here knows about units, devices or plugins; the framework in ``refsuite.core`` never
imports this package.
"""
