"""The fault cases of ``scripts/new_user_faults.py``, one module per group."""
