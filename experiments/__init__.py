"""Experiment scripts (not shipped in the wheel): ``python -m experiments.<name>``."""
