"""Estimators, registered by lookup name (see :mod:`mmm_recovery.estimators.registry`)."""
