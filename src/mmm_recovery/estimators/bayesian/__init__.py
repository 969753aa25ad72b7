"""Bayesian MMM: PyMC-Marketing sampled with NUTS (the composition root is :mod:`.estimator`).

Importing this package imports its settings only (no PyMC): the study spec validates a study
file's ``estimators.bayesian`` block with :data:`Config`; :data:`ESTIMATOR` names the class a fit
imports (:mod:`mmm_recovery.estimators.registry`).
"""

from mmm_recovery.estimators.bayesian.config import BayesianConfig as Config

#: the class that fits (``module:Class``; imported only for a fit)
ESTIMATOR = "mmm_recovery.estimators.bayesian.estimator:BayesianMMM"

__all__ = ["ESTIMATOR", "Config"]
