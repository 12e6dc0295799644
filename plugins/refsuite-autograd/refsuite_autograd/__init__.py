"""refsuite units for the Autograd chapter, written against refsuite's public API only."""
