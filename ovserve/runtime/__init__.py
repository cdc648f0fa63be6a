"""Processes and the wires between them: the supervisor, engine processes, and the worker-side bridge."""
