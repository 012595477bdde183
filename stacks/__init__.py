"""Stacks and stages: wiring of the construct library per environment, nothing clever."""
