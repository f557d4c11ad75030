"""Benchmarks, run from the project's root as modules (`python -m bench.turns`) so that they
start their servers with the test suite's own helpers (`tests.support`)."""
