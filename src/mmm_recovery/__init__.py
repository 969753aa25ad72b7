"""mmm-recovery: how well do Marketing Mix Model estimators recover the truth?"""

__version__ = "0.1.0"
