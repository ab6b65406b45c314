"""Demo data: a tagged RDS fleet and realistic slow logs, for `--demo`, the tests and bench."""
