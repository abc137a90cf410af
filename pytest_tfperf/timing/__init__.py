"""Timing: the measurement engine, settings, sampling and stopping, statistics, blocks,
the reference workload and A/B comparisons. Import the modules; this package imports nothing."""
