"""``python -m mmm_recovery.verify``: the same as ``python -m mmm_recovery.evaluation.verify``
(``make verify``), under the shorter name."""

from mmm_recovery.evaluation.verify import main

if __name__ == "__main__":
    raise SystemExit(main())
