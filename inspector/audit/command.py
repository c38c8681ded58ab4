"""`inspector audit SOURCE...` and `inspector audit show`: argument parsing and output.

The parser class and the boolean type come from the CLI (`cli._COMMANDS` passes them), so
usage errors look the same as every other command's and this module never imports the CLI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from inspector import formatting, output
from inspector.audit import progress, render
from inspector.audit.report import TOP, FleetReport, build
from inspector.audit.runner import AuditOptions, AuditSummary, run_audit
from inspector.audit.sources import WalkOptions
from inspector.audit.store import AuditStore, default_path
from inspector.cache import default_root
from inspector.errors import UsageError
from inspector.model import Platform

EXIT_OK = 0

DESCRIPTION = """Audit many images at once: every layer is indexed once, by digest, whichever
images share it; every image is analysed from those indexes (exact waste, findings);
results go to a database that a second audit extends (only new images and layers are
read). The work runs on local worker processes, or on a Dask cluster (--scheduler)."""

EPILOG = """SOURCE:
  docker://REGISTRY              every repository of the catalog (GET /v2/_catalog)
  docker://REGISTRY/REPOSITORY   every tag of the repository (--max-tags N: the N newest)
  docker://REGISTRY/REPO:TAG     one image
  DIRECTORY                      docker save archives and OCI layouts in it (recursive)
  --engine                       every image of the local Docker engine

Then:  inspector audit show [--format text|markdown|json] [--output FILE] [--db FILE]
       inspector audit show --ui         (browse it in the terminal)

Exit codes: 0 done (images that failed are recorded and reported), 2 bad arguments or
a source that cannot be read at all, 3 internal error, 130 interrupted (the next run
resumes)."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, not {value}")
    return value


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="FILE", help="the audit database (default: audit.db in the cache dir)"
    )
    parser.add_argument(
        "--format",
        choices=render.FORMATS,
        default="text",
        help="the report's format (default: text)",
    )
    parser.add_argument(
        "--json",
        action="store_const",
        dest="format",
        const="json",
        help="the same as --format json",
    )
    parser.add_argument(
        "--markdown",
        action="store_const",
        dest="format",
        const="markdown",
        help="the same as --format markdown",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", default="-", help="write the report to FILE (- stdout)"
    )
    parser.add_argument(
        "--top", type=_positive, default=TOP, metavar="N", help=f"rows per ranking (default {TOP})"
    )
    parser.add_argument(
        "--ui", action="store_true", help="browse the report in the terminal (needs a terminal)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def run_parser(
    parser_class: type[argparse.ArgumentParser], boolean: Callable[[str], bool]
) -> argparse.ArgumentParser:
    parser = parser_class(
        prog="inspector audit",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sources", metavar="SOURCE", nargs="*", help="what to audit (below)")
    parser.add_argument("--engine", action="store_true", help="every image of the local engine")
    walk = parser.add_argument_group("which images")
    walk.add_argument(
        "--include",
        metavar="GLOB",
        action="append",
        default=[],
        help="only repositories (or REPO:TAG with a ':') matching; repeatable",
    )
    walk.add_argument(
        "--exclude",
        metavar="GLOB",
        action="append",
        default=[],
        help="leave out repositories (or REPO:TAG) matching; repeatable",
    )
    walk.add_argument(
        "--max-tags",
        metavar="N",
        type=_positive,
        help="per repository, the N tags that sort last in version order",
    )
    walk.add_argument("--platform", help="os/arch[/variant] to pick from multi-platform images")
    registry = parser.add_argument_group("registry")
    registry.add_argument(
        "--creds",
        metavar="USER:PASSWORD",
        help="registry credentials (else INSPECTOR_REGISTRY_CREDS, auth files)",
    )
    registry.add_argument(
        "--tls-verify",
        metavar="BOOL",
        nargs="?",
        const=True,
        default=True,
        type=boolean,
        help="verify the registry's TLS certificate (default true)",
    )
    where = parser.add_argument_group("where it runs")
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="an existing Dask cluster's scheduler (default: local worker processes)",
    )
    where.add_argument(
        "--workers",
        metavar="N",
        type=_positive,
        help="local worker processes (default: one per core, 1 GiB each at least)",
    )
    parser.add_argument(
        "--no-report", action="store_true", help="do not print the report after the run"
    )
    _report_arguments(parser)
    return parser


def show_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = parser_class(
        prog="inspector audit show",
        description="Show the fleet report of an audit database.",
        epilog="Exit codes: 0 ok, 2 no such database or bad arguments, 3 internal error.",
    )
    _report_arguments(parser)
    return parser


OpenUI = Callable[[FleetReport], int]


def main(
    argv: Sequence[str],
    parser_class: type[argparse.ArgumentParser],
    boolean: Callable[[str], bool],
    open_ui: OpenUI | None = None,
) -> int:
    """`inspector audit …`; `parser_class`, `boolean` and `open_ui` (the terminal UI, for
    `--ui`) are the CLI's, so this package imports neither the CLI nor the UI."""
    if argv and argv[0] == "show":
        args = show_parser(parser_class).parse_args(argv[1:])
        _check_ui(args, open_ui)
        return _show(args, open_ui, create=False)
    args = run_parser(parser_class, boolean).parse_args(argv)
    _check_ui(args, open_ui)
    if not args.sources and not args.engine:
        raise UsageError("audit: name a SOURCE or --engine (see inspector audit --help)")
    if args.output != "-":
        args.output = output.checked(args.output, "--output")
    db = args.db or default_path(default_root())
    options = AuditOptions(
        db=db,
        walk=WalkOptions(
            include=tuple(args.include),
            exclude=tuple(args.exclude),
            max_tags=args.max_tags,
            creds=args.creds,
            tls_verify=args.tls_verify,
            platform=Platform.parse(args.platform) if args.platform else None,
        ),
        engine=args.engine,
        scheduler=args.scheduler,
        workers=args.workers,
        cache_root=default_root(),
    )
    events = progress.for_stderr()
    try:
        summary = run_audit(args.sources, options, events)
    finally:
        events.close()
    sys.stderr.write(_summary_line(summary, db))
    if args.no_report:
        return EXIT_OK
    args.db = db
    return _show(args, open_ui, create=False)


def _summary_line(summary: AuditSummary, db: str) -> str:
    fetched = formatting.size(summary.fetched_bytes)
    return (
        f"inspector: audit run {summary.run}: {summary.analysed} images analysed, "
        f"{summary.unchanged} unchanged, {summary.failures} failed; "
        f"{summary.layers_indexed} layers indexed ({fetched} fetched), "
        f"{summary.layers_reused} reused; {summary.seconds:.1f} s; database {db}\n"
    )


def _check_ui(args: argparse.Namespace, open_ui: OpenUI | None) -> None:
    if not args.ui:
        return
    if open_ui is None or not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("--ui: needs a terminal (use --format and --output otherwise)")


def _show(args: argparse.Namespace, open_ui: OpenUI | None, *, create: bool) -> int:
    if args.output != "-":
        args.output = output.checked(args.output, "--output")
    store = AuditStore(args.db or default_path(default_root()), create=create)
    try:
        report = build(store, args.top)
    finally:
        store.close()
    if args.ui and open_ui is not None:
        return open_ui(report)
    output.write(args.output, render.render(report, args.format), "--output")
    return EXIT_OK
