"""``casiglo-train generate``: synthetic spectra as array shards (npz / HDF5) or ``spec-*.fits`` files.

Examples::

    casiglo-train generate --n 100000 --seed 7 --out data/test-set --format hdf5 --workers 2
    casiglo-train generate --n 50 --seed 1 --out demo --format fits --backgrounds parametric,real
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from casiglo_gui.core.preprocessing import PREPROCESSING_VERSION

from .synthetic import (BACKGROUND_KINDS, KINDS, ParametricBackground, PCABackground, RealResidualBackground,
                        SyntheticConfig)
from .synthetic.parallel import iter_chunks_parallel
from .synthetic.writers import ShardWriter, write_card, write_spec_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, required=True, help="number of spectra")
    parser.add_argument("--seed", type=int, required=True, help="random seed (same seed, same data)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--format", choices=("npz", "hdf5", "fits"), default="npz")
    parser.add_argument("--shard-size", type=int, default=4096, help="spectra per shard (npz/hdf5)")
    parser.add_argument("--workers", type=int, default=1, help="processes (the data do not depend on it)")
    parser.add_argument("--config", help="JSON file with SyntheticConfig fields")
    parser.add_argument("--proportions", help=f"kind=weight,... over {','.join(KINDS)}")
    parser.add_argument("--snr", choices=("moyal", "wide"), help="line SNR distribution")
    parser.add_argument("--z-ratio", choices=("bells", "manga", "mixed"), help="z_bg/z_fg distribution")
    parser.add_argument("--untied", action="store_true", help="draw every line's SNR independently")
    parser.add_argument("--backgrounds", default="parametric",
                        help=f"comma-separated background kinds among {','.join(BACKGROUND_KINDS[:3])}")
    parser.add_argument("--real-dir", action="append",
                        help="folder or file of real spec-*.fits for real/PCA backgrounds (repeatable; "
                             "default: the shared SDSS set if present, else tests/data/sdss)")
    parser.add_argument("--keep-real-artifacts", action="store_true",
                        help="keep sky residuals and cosmic rays of real backgrounds")
    parser.add_argument("--pca-model", help="PCA background model (.npz) to load, or to write after fitting")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--overwrite", action="store_true", help="replace existing spec files")


def build_config(args) -> SyntheticConfig:
    data = json.loads(Path(args.config).read_text()) if args.config else {}
    if args.proportions:
        props = {}
        for item in args.proportions.split(","):
            key, _, value = item.partition("=")
            props[key.strip()] = float(value)
        data["proportions"] = props
    if args.snr:
        data["snr_distribution"] = args.snr
    if args.z_ratio:
        data["z_ratio_mode"] = args.z_ratio
    if args.untied:
        data["tied_ratios"] = False
    if args.keep_real_artifacts:
        data["keep_real_artifacts"] = True
    return SyntheticConfig.from_dict(data)


def build_backgrounds(args) -> tuple[dict, dict]:
    """Background sources named in ``--backgrounds`` and a JSON-ready description of them."""
    kinds = [k.strip() for k in args.backgrounds.split(",") if k.strip()]
    unknown = set(kinds) - set(BACKGROUND_KINDS[:3])
    if unknown:
        raise ValueError(f"unknown background kind(s) {sorted(unknown)}")
    sources, info = {}, {}
    real = None
    if "real" in kinds or ("pca" in kinds and not (args.pca_model and Path(args.pca_model).exists())):
        real = RealResidualBackground.from_files(args.real_dir)
        info["real"] = {"n_spectra": len(real), "skipped": len(real.skipped), "dirs": args.real_dir or "default"}
    if "parametric" in kinds:
        sources["parametric"] = ParametricBackground()
    if "real" in kinds:
        sources["real"] = real
    if "pca" in kinds:
        if args.pca_model and Path(args.pca_model).exists():
            sources["pca"] = PCABackground.load(args.pca_model)
            info["pca"] = {"model": str(args.pca_model)}
        else:
            sources["pca"] = PCABackground.fit(real)
            info["pca"] = {"fitted_on": len(real)}
            if args.pca_model:
                sources["pca"].save(args.pca_model)
                info["pca"]["saved"] = str(args.pca_model)
    return sources, info


def run(args) -> int:
    try:
        config = build_config(args)
        sources, info = build_backgrounds(args)
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        print(f"casiglo-train generate: {exc}", file=sys.stderr)
        return 2
    # Record in the card which sources were really used.
    config = replace(config, background_sources=tuple(sources),
                     real_dirs=tuple(str(d) for d in args.real_dir) if args.real_dir else None,
                     pca_model=str(args.pca_model) if args.pca_model else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    chunks = iter_chunks_parallel(args.n, args.seed, config, sources, workers=args.workers,
                                  progress=not args.no_progress, raw=args.format == "fits")
    files: list[str] = []
    if args.format == "fits":
        index = 0
        try:
            for batch, raw in chunks:
                written = write_spec_files(batch, raw, out, args.seed, start_index=index, overwrite=args.overwrite)
                files.extend(p.name for p in written)
                index += len(batch)
        except OSError as exc:
            print(f"casiglo-train generate: {exc} (use --overwrite to replace files)", file=sys.stderr)
            return 1
    else:
        writer = ShardWriter(out, args.format, args.shard_size)
        for batch in chunks:
            writer.add(batch)
        writer.close()
        files = writer.files
    card = {
        "what": "casiglo synthetic spectra", "n": args.n, "seed": args.seed, "format": args.format,
        "shard_size": args.shard_size if args.format != "fits" else None,
        "command": "casiglo-train generate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        if len(sys.argv) > 2 else None,
        "config": config.to_dict(), "backgrounds": sorted(sources), "background_info": info,
        "preprocessing_version": PREPROCESSING_VERSION, "kinds": list(KINDS),
        "seconds": round(time.time() - started, 2), "files": files,
    }
    write_card(out, card)
    print(f"wrote {args.n} spectra to {out} ({len(files)} file(s), {card['seconds']} s)", file=sys.stderr)
    return 0
