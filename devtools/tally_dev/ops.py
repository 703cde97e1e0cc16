"""Operational subcommands (`tally keys create`, `tally rebuild`)."""

import argparse


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    pass
