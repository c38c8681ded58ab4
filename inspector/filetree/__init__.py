"""The parts of `inspector.tree.FileTree`, one concept a module (see tree.py)."""
