"""inspector: look inside container images layer by layer.

The package root imports nothing heavy; the pipeline lives in its modules:
source -> blobs -> indexer -> analysis -> report / cli / ui.
"""

__version__ = "0.1.0"
