"""Robyn-style frequentist MMM: Nevergrad search around a Ridge regression (the composition root
is :mod:`.estimator`). Importing this package imports its settings only (no Nevergrad):
:data:`Config` validates a study file's ``estimators.frequentist`` block; :data:`ESTIMATOR` names
the class a fit imports (:mod:`mmm_recovery.estimators.registry`)."""

from mmm_recovery.estimators.frequentist.config import FrequentistConfig as Config

#: the class that fits (``module:Class``; imported only for a fit)
ESTIMATOR = "mmm_recovery.estimators.frequentist.estimator:FrequentistMMM"

__all__ = ["ESTIMATOR", "Config"]
