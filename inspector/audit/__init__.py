"""Audit a registry or a fleet: every layer indexed once, every image analysed, one database.

    sources.py   which images: a registry's catalog or a repository's tags, the engine,
                 a directory of archives and OCI layouts (filters, tag limits)
    tasks.py     what the workers run: index a layer blob, analyse an image from its
                 layer summaries, load a local image through the pipeline
    runner.py    the coordinator: plan, skip what the database holds, submit to Dask
                 (local worker processes or --scheduler), store results as they arrive
    store.py     the SQLite database (images, layers, image_layers, files, findings,
                 failures, runs)
    report.py    the fleet report as values;  render.py  as text, Markdown or JSON
    progress.py  progress on stderr;  command.py  `inspector audit` and `audit show`

A front end of the pipeline, like the CLI: it never imports the CLI or the UI.
docs/audit.md describes it for users.
"""
