"""refsuite's testing kit (the `unit` and `plugins` fixtures), opted into as every plugin test package does."""
pytest_plugins = ["refsuite.testing"]
