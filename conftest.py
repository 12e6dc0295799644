"""refsuite's own tests use the kit plugin authors use."""
pytest_plugins = ["refsuite.testing"]
