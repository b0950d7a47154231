"""Benchmark scripts printing JSON; run through ``align3r-bench <name>``."""
