"""Command-line entry points (console scripts registered in setup.py)."""
