"""Comparing fits with the truth: scoring, budget regret, prior sensitivity, the recovery study."""
