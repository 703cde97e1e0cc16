"""Developer tooling for Tally: the `tally` CLI and the local runtime (not part of the deployed layer)."""
