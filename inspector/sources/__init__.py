"""Adapters from where images live (archives, layouts, engines) to LoadedImage."""
