"""Parley's platform adapters and the composition root that wires them to the engine."""
