"""Bayesian MMM: PyMC-Marketing sampled with NUTS (the composition root is :mod:`.estimator`).

Importing this package registers :class:`~.estimator.BayesianMMM` and imports no PyMC: the
modules that need PyMC-Marketing import it themselves.
"""

from mmm_recovery.estimators.bayesian.estimator import BayesianMMM

__all__ = ["BayesianMMM"]
