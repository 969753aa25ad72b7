"""Adstock and saturation families: one class per family (:mod:`.adstock`, :mod:`.saturation`),
looked up by name in :mod:`.registry` (which imports and so registers every family)."""
