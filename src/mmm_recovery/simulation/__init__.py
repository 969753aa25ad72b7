"""Simulated datasets with known truths (the answer key travels with the data)."""
