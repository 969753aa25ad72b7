"""The reference estimator: ordinary least squares on transforms it assumes, with block-bootstrap
intervals -- the worked example of ``docs/extending.md`` and the simplest baseline a study can
hold the others against.

Importing this package imports its settings only: the study spec validates a study file's
``estimators.reference`` block with :data:`Config`; :data:`ESTIMATOR` names the class a fit
imports (:mod:`mmm_recovery.estimators.registry`).
"""

from mmm_recovery.estimators.reference.config import ReferenceConfig as Config

#: the class that fits (``module:Class``; imported only for a fit)
ESTIMATOR = "mmm_recovery.estimators.reference.estimator:ReferenceMMM"

__all__ = ["ESTIMATOR", "Config"]
