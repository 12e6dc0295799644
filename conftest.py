"""The tests' fixtures (``unit``, ``plugins``) come from refsuite's testing kit, opted into here
as plugin authors opt in: refsuite registers no fixtures in projects that do not ask."""
pytest_plugins = ["refsuite.testing"]
