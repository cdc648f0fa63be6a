"""Soak testing: a load generator (load.py) and process-tree memory readings (procs.py)."""
