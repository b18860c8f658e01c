"""Turn the INPUT arguments of ``casiglo scan`` (files, folders, globs) into an ordered list of files.

Order (deterministic, documented in docs/scan.md): arguments in the order given; a folder contributes
its spectrum files found recursively, sorted by path (byte order of the relative path); a glob
contributes its matches sorted the same way; an explicitly named file is taken as is, whatever its
name. A file reached twice (e.g. a folder and a glob inside it) keeps only its first place.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

# Files a folder or glob contributes. Explicitly named files are always taken (and get an error row
# if they are not spectra), so nothing a user names is ever silently skipped.
SPECTRUM_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fits.fz", ".fz")
GLOB_CHARS = set("*?[")


@dataclass
class ExpandedInputs:
    """Result of :func:`expand_inputs`."""

    files: list[str]
    skipped: list[str] = field(default_factory=list)   # folder entries that are not spectrum files
    missing: list[str] = field(default_factory=list)   # arguments that matched nothing
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (folder, reason) not searched


def is_spectrum_name(name: str) -> bool:
    """Whether a file name looks like a spectrum/cube file a folder scan should take."""
    lower = name.lower()
    return not name.startswith(".") and lower.endswith(SPECTRUM_SUFFIXES)


def _walk_sorted(folder: str, skipped: list[str], unreadable: list[tuple[str, str]]) -> list[str]:
    found = []

    def refused(exc: OSError) -> None:  # a folder that cannot be listed is reported, never skipped silently
        unreadable.append((exc.filename or folder, exc.strerror or str(exc)))

    for root, dirs, files in os.walk(folder, followlinks=False, onerror=refused):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(root, name)
            (found if is_spectrum_name(name) else skipped).append(path)
    return sorted(found, key=lambda p: os.path.relpath(p, folder).split(os.sep))


def expand_inputs(arguments: list[str]) -> ExpandedInputs:
    """Expand files, folders and globs into the ordered list of input files.

    Parameters
    ----------
    arguments : list of str
        As given on the command line.

    Returns
    -------
    ExpandedInputs
        ``files`` in scan order (absolute paths); ``skipped`` non-spectrum files met inside folders;
        ``missing`` arguments that are neither a file, a folder nor a glob with matches. A missing
        plain path is still kept in ``files`` so that it gets an error row ("file not found").
        ``unreadable`` folders (and why) that could not be listed: their files are unknown.
    """
    out = ExpandedInputs(files=[])
    seen: set[str] = set()

    def add(path: str) -> None:
        absolute = os.path.abspath(path)
        if absolute not in seen:
            seen.add(absolute)
            out.files.append(absolute)

    for argument in arguments:
        if os.path.isdir(argument):
            for path in _walk_sorted(argument, out.skipped, out.unreadable):
                add(path)
        elif os.path.exists(argument):
            add(argument)
        elif GLOB_CHARS & set(argument):
            matches = sorted(glob.glob(argument, recursive=True))
            if not matches:
                out.missing.append(argument)
            for match in matches:
                if os.path.isdir(match):
                    for path in _walk_sorted(match, out.skipped, out.unreadable):
                        add(path)
                else:
                    add(match)  # the user's own pattern named it
        else:
            out.missing.append(argument)
            add(argument)  # becomes an "error: file not found" row: the user named it
    return out
