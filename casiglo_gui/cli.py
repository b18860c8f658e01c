"""``casiglo`` command line: the app (no arguments, or ``open``), ``scan`` and ``labels``.

Each subcommand lives in its own module and is imported only when used, so ``casiglo scan`` never
loads Qt and ``casiglo`` never loads TensorFlow.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, help). Each module provides ``add_arguments(parser)`` and ``run(args) -> int``.
SUBCOMMANDS = {
    "open": ("casiglo_gui.app", "open spectra, folders or a scan table in the inspector"),
    "scan": ("casiglo_gui.scan_cli", "score many spectra into a ranked candidate table"),
    "labels": ("casiglo_gui.labels_cli", "import/export experts' labels and target lists"),
}


def plain(text: str) -> str:
    """Docstring text for --help: without reStructuredText's ``literal`` quotes."""
    return text.replace("``", "")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("casiglo-inspector")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from . import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="casiglo", description=plain(summary))
    parser.add_argument("--version", action="version", version=f"casiglo {version()}")
    sub = parser.add_subparsers(dest="command")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while the commands load, before a subcommand can handle it
        print("\ninterrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["open"]  # no arguments: open the bundled sample set
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    return int(run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
