"""The test suite; a package so that it shadows stray top-level `tests` packages some dependencies install."""
