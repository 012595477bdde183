"""Benchmark harness of the platform: synth time against floors, scale to many models, Lambda cold path, tests.

Run with ``make bench`` (``python -m bench.run``); it writes ``bench/results/latest.json`` and ``latest.md``.
"""
