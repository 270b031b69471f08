"""The authorisation matrix kept as data (matrix.py) and the tests that drive every channel with
it (tests/). No models, no views: a test package, so it is not an installed app."""
