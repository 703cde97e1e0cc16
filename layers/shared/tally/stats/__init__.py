"""The stats queries behind each public API shape, all answered from the counters."""
