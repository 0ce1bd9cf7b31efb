"""Parley's engine: conversations, personas, history and the model, with no platform in sight."""
