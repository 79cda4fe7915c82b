"""The `keras-lie` command line: a thin shell over the library.

User mistakes end in one clear line on stderr and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_FAILURE = 1
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # fewer TensorFlow log lines
    from keras_lie.errors import KerasLieError

    try:
        return args.handler(args)
    except (KerasLieError, FileExistsError) as error:
        print(f"keras-lie: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as error:
        print(f"keras-lie: error: {error.filename or ''}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("keras-lie: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-lie",
        description="Learnable image encryption (Tanaka, ICCE-TW 2018) for TensorFlow/Keras.",
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    keygen = commands.add_parser(
        "keygen", help="generate a secret key", description="Generate a secret key file (0600)."
    )
    keygen.add_argument(
        "--scheme", default="learnable",
        help="learnable (proposed), block-shuffle (naive), cat-map, or plain (default: learnable)",
    )
    keygen.add_argument("--block-size", type=int, default=None, help="block side M (default 4)")
    keygen.add_argument("--channels", type=int, default=3, help="image channels C (default 3)")
    keygen.add_argument(
        "--seed", type=int, default=None,
        help="derive the key from this seed (reproducible experiments only; not secret)",
    )
    keygen.add_argument(
        "--from-reference", metavar="PICKLE", type=Path,
        help="import a key saved by the authors' published code instead of generating one",
    )
    keygen.add_argument("-o", "--output", required=True, type=Path, help="key file to write")
    keygen.add_argument("--force", action="store_true", help="overwrite an existing key file")
    keygen.set_defaults(handler=_keygen)

    info = commands.add_parser(
        "key-info", help="show a key's scheme, sizes and fingerprint",
        description="Show a key's scheme, sizes and fingerprint (never the key material).",
    )
    info.add_argument("key", type=Path)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=_key_info)

    for direction in ("encrypt", "decrypt"):
        sub = commands.add_parser(
            direction, help=f"{direction} an image file or a folder tree into PNG files",
            description=(
                f"{direction.capitalize()} SRC (an image file or a folder tree; class "
                "sub-folders are kept) into PNG files at DST. Inputs are never overwritten."
            ),
        )
        sub.add_argument("--key", required=True, type=Path, help="key file")
        sub.add_argument("source", metavar="SRC", type=Path)
        sub.add_argument("destination", metavar="DST", type=Path)
        sub.add_argument(
            "--padding", choices=("error", "replicate"), default="error",
            help="for sides that are not multiples of the block size (default: error)",
        )
        sub.add_argument("--overwrite", action="store_true", help="replace existing output files")
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
        sub.set_defaults(handler=_transform, direction=direction)
    return parser


def _keygen(args) -> int:
    from keras_lie.keys import LearnableKey, generate_key

    if args.from_reference is not None:
        key = LearnableKey.from_reference_pickle(args.from_reference)
    else:
        key = generate_key(args.scheme, args.block_size, args.channels, seed=args.seed)
    key.save(args.output, overwrite=args.force)
    print(f"Wrote {key.scheme} key {key.short_fingerprint} to {args.output} (mode 0600).")
    if args.seed is not None:
        print("Note: a key derived from a seed is reproducible by anyone who knows the seed.")
    return 0


def _key_info(args) -> int:
    from keras_lie.keys import load_key

    facts = load_key(args.key).describe()
    if args.json:
        print(json.dumps(facts, indent=1))
    else:
        for name, value in facts.items():
            print(f"{name:18} {value}")
    return 0


def _transform(args) -> int:
    from keras_lie.files import transform_path

    report = transform_path(
        args.source, args.destination, args.key, args.direction,
        padding=args.padding, overwrite=args.overwrite, progress=not args.quiet,
    )
    verb = "Encrypted" if args.direction == "encrypt" else "Decrypted"
    print(f"{verb} {len(report.written)} file(s) into {args.destination}.")
    for path, reason in report.failures:
        print(f"keras-lie: failed: {reason}", file=sys.stderr)
    if report.failures:
        print(f"keras-lie: error: {len(report.failures)} file(s) failed.", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _version() -> str:
    from keras_lie.version import __version__

    return f"keras-lie {__version__}"


if __name__ == "__main__":
    sys.exit(main())
