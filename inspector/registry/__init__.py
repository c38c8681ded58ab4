"""Talking to registries over the OCI Distribution API: references, credentials, auth, HTTP.

`inspector.sources.registry` builds on these; nothing here knows about layers or analysis.
"""
