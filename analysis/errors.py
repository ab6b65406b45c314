"""One exception root for the pure analysis layer, so callers can catch our failures
without catching programming errors."""


class AnalysisError(Exception):
    """Base of every error raised by `analysis/`."""


class SlowLogParseError(AnalysisError):
    """A slow-log entry could not be read; carries the reason so a run can count and report it."""


class PlanParseError(AnalysisError):
    """An EXPLAIN output could not be read into the plan model."""
