"""Bring your own data: validate a weekly CSV, fit every estimator to it, advise a budget.

A dataset is declared under ``datasets:`` in the study YAML with a column map (see
:class:`~mmm_recovery.core.spec.CsvDatasetSpec`). Before any fit the file goes through a pandera
schema; every problem is reported at once, each naming the file, the column and the CSV line(s)
(line 1 is the header): missing, unparseable, duplicated, unsorted or non-weekly dates and gaps,
NaN, negative spend, non-numeric columns, a constant or all-zero channel, too few weeks for the
estimators' ``l_max`` plus the holdout, a column named in the map but absent.

One feature, one sub-package: :mod:`.validate` (the CSV schema), :mod:`.index` (the datasets
``dvc repro`` fits), :mod:`.fit` (fit and advise), :mod:`.cli` (the command).

There is no ground truth, so results hold estimates, fit, decomposition, ROAS and budget advice
only (no recovery errors, no regret). ``example`` writes a CSV in Robyn's ``dt_simulated_weekly``
layout from the simulator, for trying the workflow.

    python -m mmm_recovery.byod example --study studies/recovery.yaml --out data/byod/robyn_example.csv
    python -m mmm_recovery.byod check                       # every dataset dvc repro fits
    python -m mmm_recovery.byod add --study studies/my_shop.yaml --dataset my_shop

``add`` lists a dataset declared in any study file in ``studies/datasets.yaml``, the index
``dvc repro`` fits from (:mod:`.index`).
"""

from mmm_recovery.byod.cli import check, main
from mmm_recovery.byod.fit import ROBYN_COLUMNS, byod_dir, fit_all, load, min_weeks, write_example
from mmm_recovery.byod.validate import DataError, read_csv, validate

__all__ = [
    "ROBYN_COLUMNS",
    "DataError",
    "byod_dir",
    "check",
    "fit_all",
    "load",
    "main",
    "min_weeks",
    "read_csv",
    "validate",
    "write_example",
]
