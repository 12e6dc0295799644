"""refsuite's built-in units, one module per tutorial section (registered via entry points)."""
