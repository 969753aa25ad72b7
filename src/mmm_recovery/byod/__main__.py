"""``python -m mmm_recovery.byod`` (:mod:`.cli`)."""

from mmm_recovery.byod.cli import main

raise SystemExit(main())
