"""``casiglo-train`` command line: generate, fit, evaluate, export, finetune.

Each subcommand lives in its own module, imported only when used (``generate`` needs no TensorFlow).
"""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "generate": ("training.generate_cli", "generate synthetic spectra (arrays or spec-*.fits files)"),
    "fit": ("training.fit", "train the CNN"),
    "evaluate": ("training.evaluate", "evaluate a model against held-out data and the physics detector"),
    "export": ("training.export", "export a trained model to ONNX with its metadata"),
    "finetune": ("training.finetune", "fine-tune from experts' labels"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="casiglo-train", description=__doc__.splitlines()[0].replace("``", ""))
    sub = parser.add_subparsers(dest="command")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_module=module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if argv and argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if not argv or argv[0] not in SUBCOMMANDS:
        parser.print_help()
        return 2
    # Each module parses its own arguments so that heavy imports happen only for the chosen command.
    module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
    sub = argparse.ArgumentParser(prog=f"casiglo-train {argv[0]}")
    module.add_arguments(sub)
    return int(module.run(sub.parse_args(argv[1:])) or 0)


if __name__ == "__main__":
    sys.exit(main())
