"""scikit-learn's handwritten digits as a refsuite dataset plugin, plus a unit that trains LeNet on it."""
