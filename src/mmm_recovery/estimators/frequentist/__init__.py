"""Robyn-style frequentist MMM: Nevergrad search around a Ridge regression (the composition root
is :mod:`.estimator`). Importing this package registers :class:`~.estimator.FrequentistMMM`."""

from mmm_recovery.estimators.frequentist.estimator import FrequentistMMM

__all__ = ["FrequentistMMM"]
