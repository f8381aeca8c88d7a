"""Showing: the report, the one-model sweep, the command line (`python -m repro`) and the pytest plugin."""
