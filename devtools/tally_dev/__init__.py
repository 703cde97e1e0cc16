"""Developer tooling for Tally: the `tally` CLI, the local runtime, the Lambda kit (not part of the layer)."""


class UsageError(Exception):
    """A misuse any `tally` command reports in one line (exit code 2), without a traceback."""
