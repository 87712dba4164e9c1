"""Simulated county: the department systems of ``shared/contracts/sources.md`` plus a ground truth."""
