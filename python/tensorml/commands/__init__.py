"""Subcommands of the tensorml command line (see tensorml.cli)."""
