"""The tests' fixtures (``unit``, ``plugins``) come from refsuite's pytest plugin (refsuite.testing),
as they do for plugin authors."""
