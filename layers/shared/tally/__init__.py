"""Tally's shared layer: auth, event models, time ranges, counters and stats queries."""
