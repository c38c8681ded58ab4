"""`python -m inspector`."""

from inspector.cli import entry

entry()
