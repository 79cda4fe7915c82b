"""The `keras-lie` command line: a thin shell over the library.

User mistakes end in one clear line on stderr and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from pathlib import Path

from keras_lie.errors import KerasLieError  # light: no TensorFlow import
from keras_lie.experiments.presets import ALL_SCHEMES as TABLE_I_SCHEMES  # light: no TensorFlow
from keras_lie.options import DISTRIBUTE_MODES, INPUT_MODES, PADDING_MODES, SCHEDULES
from keras_lie.registry import SCHEME_RECORDS, scheme_names  # light: the records import no TensorFlow

EXIT_FAILURE = 1
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # fewer TensorFlow log lines
        if args.command not in _COMMANDS_WITHOUT_TENSORFLOW:
            _import_tensorflow_quietly()
    _show_progress()
    try:
        return args.handler(args)
    except (KerasLieError, FileExistsError) as error:
        print(f"keras-lie: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as error:
        print(f"keras-lie: error: {error.filename or ''}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as error:  # a bad option value (e.g. --depth 21) reaching the library
        print(f"keras-lie: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as error:  # noqa: BLE001
        # TensorFlow reports bad data (say, images of mixed sizes) as OpError at run time.
        if type(error).__module__.startswith("tensorflow") and hasattr(error, "message"):
            print(f"keras-lie: error: {error.message.splitlines()[0]}", file=sys.stderr)
            return EXIT_FAILURE
        raise
    except KeyboardInterrupt:
        print("keras-lie: interrupted", file=sys.stderr)
        return 130


_COMMANDS_WITHOUT_TENSORFLOW = ("keygen", "key-info")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with the process's stderr closed for the time of the import.

    Its C++ side logs through absl before any setting is read (the CUDA probe on
    a machine without a GPU, "All log messages before absl::InitializeLog()"),
    which TF_CPP_MIN_LOG_LEVEL does not silence. A failing import is retried
    with stderr open, so its own message is not lost.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except Exception:  # noqa: BLE001 - reported by the import below, with stderr back
                pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    import tensorflow  # noqa: F401,F811


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever `sys.stdout` is at the time (it may be replaced after the handler is made)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def _show_progress() -> None:
    """Print the library's progress messages (logger `keras_lie`, level INFO) on stdout."""
    logger = logging.getLogger("keras_lie")
    if not any(isinstance(handler, _StdoutHandler) for handler in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless it has none (None, off) or its help already says it."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _progress_verbosity() -> int:
    """Keras' progress bar on a terminal; one line per epoch in logs (no control characters)."""
    return 1 if sys.stdout.isatty() else 2


def _scheme_choices() -> str:
    """The schemes as `keygen --help` lists them, from the registry: "plain; ...; learnable: proposed; ..."."""
    names = [(name.replace("_", "-"), record.label) for name, record in SCHEME_RECORDS.items()]
    return "; ".join(f"{cli}: {label}" if label.replace(" ", "-") != cli else cli for cli, label in names)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-lie",
        description="Learnable image encryption (Tanaka, ICCE-TW 2018) for TensorFlow/Keras.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log lines (hidden by default)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_parser = commands.add_parser

    def add_command(*args, **kwargs):  # every command's help shows its defaults
        kwargs.setdefault("formatter_class", _HelpFormatter)
        return add_parser(*args, **kwargs)

    commands.add_parser = add_command

    keygen = commands.add_parser(
        "keygen", help="generate a secret key", description="Generate a secret key file (0600).",
    )
    keygen.add_argument(
        "--scheme", default="learnable",
        help=f"{_scheme_choices()} (default: learnable)",
    )
    keygen.add_argument("--block-size", type=int, default=None, help="block side M (default 4)")
    keygen.add_argument("--channels", type=int, default=3, help="image channels C (default 3)")
    keygen.add_argument("--image-size", metavar="HxW", default=None,
                        help="the image size an ele or etc key is for (its keys and block shuffle fit one size)")
    keygen.add_argument(
        "--seed", type=int, default=None,
        help="derive the key from this seed (reproducible experiments only; not secret)",
    )
    keygen.add_argument(
        "--from-reference", metavar="FILE", type=Path,
        help="import a reference key instead of generating one: the authors' .pkl (learnable) or the "
             "reference implementation's .npz (with --scheme ele or etc)",
    )
    keygen.add_argument(
        "--colour-shuffle", choices=("permute", "reference-code"), default="permute",
        help="for an imported etc key: permute (invertible) or reference-code (the reference code's lossy "
             "colour step behind the published EtC figures; such images cannot be decrypted)",
    )
    keygen.add_argument("-o", "--output", required=True, type=Path, help="key file to write")
    keygen.add_argument("--overwrite", action="store_true", help="replace an existing key file")
    keygen.add_argument("--force", dest="overwrite", action="store_true", help=argparse.SUPPRESS)  # old spelling
    keygen.set_defaults(handler=_keygen)

    info = commands.add_parser(
        "key-info", help="show a key's scheme, sizes and fingerprint",
        description="Show a key's scheme, sizes and fingerprint (never the key material).",
    )
    info.add_argument("key", type=Path, help="key file")
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
        sub.add_argument("--key", required=True, type=_location, help="key file")
        sub.add_argument("source", metavar="SRC", type=_location, help="an image file or a folder tree")
        sub.add_argument("destination", metavar="DST", type=_location, help="a .png file, or a folder")
        sub.add_argument(
            "--padding", choices=PADDING_MODES, default="error",
            help="for sides that are not multiples of the block size (default: error)",
        )
        sub.add_argument("--overwrite", action="store_true", help="replace existing output files")
        sub.add_argument("--resume", action="store_true",
                         help="finish an interrupted run into DST: keep the outputs that are complete, "
                              "write the missing ones")
        sub.add_argument("--max-pixels", type=int, default=None, metavar="N",
                         help="refuse images over N pixels, read from the header before decoding "
                              "(default: 50,000,000; 0: no limit)")
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
        if direction == "encrypt":
            sub.add_argument("--format", choices=("png", "tfds"), default="png",
                             help="png: a folder of PNG files; tfds: a TensorFlow Datasets directory of TFRecord "
                                  "shards, written by an Apache Beam pipeline (pip install \"keras-lie[beam]\")")
            sub.add_argument("--num-shards", type=int, metavar="N",
                             help="with --format tfds: shards per split (default: about 150 MB each)")
            sub.add_argument("--runner", default=None,
                             help="with --format tfds: the Beam runner (default: DirectRunner on every local core; "
                                  "FlinkRunner, SparkRunner, ... with paths every worker sees)")
            sub.add_argument("--beam-options", default="", metavar="OPTIONS",
                             help="with --format tfds: more Beam pipeline options, quoted, e.g. "
                                  "\"--flink_master=host:8081 --environment_type=LOOPBACK\"")
        sub.set_defaults(handler=_transform, direction=direction)
    _add_training_commands(commands)
    return parser


def _add_training_commands(commands) -> None:
    from keras_lie.experiments import PRESETS

    def add_budget_options(sub, defaults_from="cpu-small"):
        sub.add_argument("--preset", choices=sorted(PRESETS), default=defaults_from,
                         help=f"settings to start from (default: {defaults_from}); options below override them")
        sub.add_argument("--data", help="cifar10, cifar100, a class-folder tree, or a zip of one")
        sub.add_argument("--data-dir", help="TensorFlow Datasets folder (for a prepared copy)")
        sub.add_argument("--train-size", type=int, help="class-balanced subset of the training set")
        sub.add_argument("--test-size", type=int, help="class-balanced subset of the test set")
        sub.add_argument("--holdout", type=float, metavar="FRACTION",
                         help="for --data without train/ and test/ folders: test on this fraction of it, "
                              "held out by file name (e.g. 0.1)")
        sub.add_argument("--epochs", type=int, help="training epochs (default: the preset's)")
        sub.add_argument("--batch-size", type=int, help="global batch size (default: the preset's)")
        sub.add_argument("--learning-rate", type=float, help="SGD learning rate (default: the preset's)")
        sub.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (default: the preset's)")
        sub.add_argument("--depth", type=int, help="PyramidNet depth (6n + 2)")
        sub.add_argument("--alpha", type=float, help="PyramidNet widening factor")
        sub.add_argument("--seed", type=int, help="seed of data order, augmentation and initial weights "
                                                    "(default: the preset's)")
        sub.add_argument("--no-augment", dest="augment", action="store_const", const=False, default=None,
                         help="no block-aligned augmentation")
        sub.add_argument("--mixed-precision", action="store_const", const=True, default=None,
                         help="float16 (GPU) or bfloat16 (CPU) compute")
        sub.add_argument("--distribute", choices=DISTRIBUTE_MODES, default="none",
                         help="train with a tf.distribute strategy: mirrored (the GPUs of this machine), "
                              "multi-worker (the cluster in TF_CONFIG; run the same command on every worker, "
                              "with a shared output folder), or tpu")
        sub.add_argument("--output", "-o", type=Path, required=True, help="output folder")

    train = commands.add_parser(
        "train", help="train a classifier on encrypted images",
        description=(
            "Train a classifier (block stem + PyramidNet). With --key, images are encrypted on "
            "the fly (the data holder's view); with --encrypted, --data is a folder made by "
            "`keras-lie encrypt` and only --scheme is needed (the trainer's view: no key)."
        ),
    )
    train.add_argument("--key", type=Path, help="key file to encrypt with")
    train.add_argument("--encrypted", action="store_true", help="--data is already encrypted")
    train.add_argument("--scheme", default=None, help="scheme of already-encrypted data")
    train.add_argument("--stem-input", choices=INPUT_MODES, default="bytes",
                       help="what the block stem sees: bytes (the paper) or nibbles (exact key conversion)")
    train.add_argument("--restart", action="store_true",
                       help="start over in --output, discarding a run there (a run with other settings is "
                            "refused otherwise)")
    train.add_argument("--recalibrate-batch-norm", type=int, default=None, metavar="BATCHES",
                       help="after training, set batch normalisation's statistics from this many training "
                            "batches (default: one pass over the training set, worth several points after short "
                            "runs; 0: keep the moving averages; multi-worker runs keep them)")
    add_budget_options(train)
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a trained model on a test split")
    evaluate.add_argument("--model", type=Path, required=True, help="a .keras model from `train`")
    evaluate.add_argument("--data", required=True,
                          help="cifar10, cifar100, a class-folder tree, a zip of one, or an encrypted folder")
    evaluate.add_argument("--data-dir", help="TensorFlow Datasets folder (for a prepared copy)")
    evaluate.add_argument("--split", default="test", help="the split (sub-folder) to evaluate on")
    evaluate.add_argument("--key", type=Path, help="key to encrypt the data with (checked against the model)")
    evaluate.add_argument("--encrypted", action="store_true", help="--data is already encrypted")
    evaluate.add_argument("--batch-size", type=int, default=128, help="images per batch")
    evaluate.add_argument("--limit", type=int, help="evaluate on a class-balanced subset of this many images")
    evaluate.set_defaults(handler=_evaluate)

    reproduce = commands.add_parser(
        "reproduce", help="reproduce the paper's Table I",
        description="Train the same network on plain, cat map, naive shuffle and proposed images "
                    "and write results.md, results.json and results.png beside the paper's figures.",
    )
    reproduce.add_argument("--schemes", default=",".join(TABLE_I_SCHEMES),
                           help="comma-separated schemes; ele and etc add three rows each (paper stem, no "
                                "adaptation, block-token ViT) and plain through the same ViT")
    reproduce.add_argument("--stem-inputs", default="bytes,nibbles,recipe",
                           help="rows of the proposed scheme: the paper's stem on bytes or nibbles, and "
                                "keras-lie's recipe (equivariant stem, data initialisation)")
    reproduce.add_argument("--no-recalibration", action="store_true",
                           help="measure with batch normalisation's moving averages instead of recalibrating it")
    add_budget_options(reproduce)
    reproduce.set_defaults(handler=_reproduce)

    figure = commands.add_parser("figure", help="draw the paper's Figure 2")
    figure.add_argument("images", nargs="*", type=Path, help="image files (default: from --data)")
    figure.add_argument("--data", help="dataset to take images from (as for train)")
    figure.add_argument("--count", type=int, default=4, help="images taken from --data")
    figure.add_argument("--block-size", type=int, default=4, help="block side M of the block-wise schemes")
    figure.add_argument("--seed", type=int, help="key seed (default: fresh random keys)")
    figure.add_argument("--output", "-o", type=Path, required=True, help="PNG file")
    figure.set_defaults(handler=_figure)

    security = commands.add_parser(
        "security", help="measure how well the schemes hide images (metrics and attacks)",
        description="With --data: write report.md, report.json and picture grids: visual metrics, "
                    "ciphertext-only reconstruction, known- and chosen-plaintext key recovery, key leakage "
                    "from trained models, and key space, per scheme and block size. With --encrypted FOLDER "
                    "--key KEY: run the ciphertext-only attacks on your own encrypted folder, as anyone who "
                    "receives it can, and write exposure.md, exposure.json and exposure.png (the key only "
                    "scores; no plain image is written).",
    )
    source = security.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="images to evaluate the schemes on (as for train)")
    source.add_argument("--encrypted", type=Path,
                        help="a folder written by `keras-lie encrypt`: attack it as its recipients can")
    security.add_argument("--split", default="test",
                          help="the split to take images from (default test; use train for a training set)")
    security.add_argument("--images", type=int, default=1000, help="how many images (default 1000)")
    security.add_argument("--key", type=Path, help="with --data: evaluate this key only (default: fresh keys per "
                                                  "scheme); with --encrypted: the folder's key, to score")
    security.add_argument("--schemes", default=",".join(scheme_names()),
                          help="comma-separated schemes to evaluate")
    security.add_argument("--block-sizes", default="4,8", help="comma-separated block sides M")
    security.add_argument("--train-leakage", action="store_true",
                          help="train small models on the learnable keys and measure what their weights leak")
    security.add_argument("--leakage-epochs", type=int, default=3, help="epochs of each --train-leakage model")
    security.add_argument("--seed", type=int, help="key seed (default: fresh random keys)")
    security.add_argument("--output", "-o", type=Path, required=True, help="report folder")
    security.set_defaults(handler=_security)

    predict = commands.add_parser(
        "predict", help="classify encrypted images with a trained model (the operator)",
        description="Class names and probabilities for encrypted image files or folders, from a model trained "
                    "by `keras-lie train` (its run folder gives the class names). Folders written by `keras-lie "
                    "encrypt` are checked against the model's scheme and key; images that look plain are refused.",
    )
    predict.add_argument("images", nargs="+", type=Path, help="encrypted image files or folders")
    predict.add_argument("--model", type=Path, required=True, help="the trained model (.keras)")
    predict.add_argument("--top", type=int, default=1, help="classes per image, most probable first")
    predict.add_argument("--format", choices=("csv", "json"), default="csv", help="output format")
    predict.add_argument("--output", "-o", type=Path, help="write to this file (default: standard output)")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    predict.add_argument("--batch-size", type=int, default=64, help="images per model call")
    predict.add_argument("--not-plain", action="store_true",
                         help="the images are encrypted though they look plain (skip that check)")
    predict.set_defaults(handler=_predict)

    export = commands.add_parser(
        "export", help="export a classifier (or the camera's encryptor) as a SavedModel or TFLite file",
        description="Export a .keras classifier for serving encrypted images, or, with --encryptor, the "
                    "camera side that encrypts frames with --key (that file CONTAINS THE KEY: it is written "
                    "owner-only). Parent folders are created (served/<name>/<version>).",
    )
    export.add_argument("--model", type=Path, help="a .keras classifier")
    export.add_argument("--encryptor", action="store_true", help="export the encryptor for --key instead (SECRET)")
    export.add_argument("--key", type=Path, help="key file, for --encryptor")
    export.add_argument("--format", choices=("saved_model", "tflite"), default="saved_model",
                        help="a SavedModel folder, or one .tflite file (builtin ops only for the encryptor)")
    export.add_argument("--image-size", metavar="HxW",
                        help="frame size of a TFLite encryptor, e.g. 480x640 (TFLite needs it fixed)")
    export.add_argument("--output", "-o", type=Path, required=True, help="output folder or .tflite file")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing export (only a SavedModel, an empty folder or a .tflite file)")
    export.add_argument("--force", dest="overwrite", action="store_true", help=argparse.SUPPRESS)  # old spelling
    export.set_defaults(handler=_export)


def _overrides(args) -> dict:
    import dataclasses

    from keras_lie.experiments import Preset

    fields = {f.name for f in dataclasses.fields(Preset)}
    return {k: v for k, v in vars(args).items() if k in fields and v is not None}


def _train(args) -> int:
    from keras_lie.distribute import is_chief, make_strategy
    from keras_lie.experiments import prepare, run_configuration
    from keras_lie.keys import canonical_scheme_name, load_key

    scheme_name = canonical_scheme_name(args.scheme) if args.scheme else None
    if args.key is None and not args.encrypted and scheme_name not in (None, "plain"):
        raise KerasLieError("Give --key to encrypt the data, or --encrypted for data that already is.")
    key = load_key(args.key) if args.key else None
    if key is not None:
        scheme_name = key.scheme
    settings, _, train_source, test_source = prepare(args.preset, _overrides(args), None, args.data_dir,
                                                     encrypted=args.encrypted)
    manifest = train_source.manifest
    if args.encrypted:
        if manifest is None and scheme_name is None:
            raise KerasLieError(
                f"{settings.data} has no keras-lie-dataset.json (it was not made by `keras-lie encrypt`); "
                "give --scheme for its encryption, or re-encrypt it with `keras-lie encrypt`."
            )
        if scheme_name is None:  # the manifest says; a --scheme that contradicts it is refused by the run
            scheme_name = manifest.scheme
    scheme_name = scheme_name or "plain"
    print(f"Settings: {settings}")
    strategy = make_strategy(args.distribute)
    recalibration = args.recalibrate_batch_norm
    if recalibration is None:  # one pass over the training set; short runs' moving averages are biased
        recalibration = 0 if args.distribute == "multi-worker" else -(-train_source.size // settings.batch_size)
    model, results = _naming_bad_files(
        (train_source, test_source),
        lambda: run_configuration(settings, train_source, test_source, scheme_name, args.output, stem={},
                                  stem_input_mode=args.stem_input, key=key, verbose=_progress_verbosity(),
                                  recalibrate_batch_norm_steps=recalibration, restart=args.restart,
                                  strategy=strategy),
    )
    if not is_chief(strategy):  # another worker of a multi-worker run: the chief saves the model
        print(f"Test accuracy {results['test_accuracy']:.4f} (worker; the chief saves the model)")
        return 0
    model.save(args.output / "model.keras")
    print(f"Test accuracy {results['test_accuracy']:.4f}; model in {args.output / 'model.keras'}")
    return 0


def _evaluate(args) -> int:
    from keras_lie.data import load_source, make_pipeline
    from keras_lie.keys import load_key
    from keras_lie.models import check_data

    model = _load_model(args.model)
    key = load_key(args.key) if args.key else None
    source = load_source(args.data, args.split, data_dir=args.data_dir, limit=args.limit, encrypted=args.encrypted)
    check_data(model, encrypted=args.encrypted, manifest=source.manifest, key=key)
    data = make_pipeline(source, key, batch_size=args.batch_size)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = _naming_bad_files((source,), lambda: model.evaluate(data, verbose=_progress_verbosity()))[:2]
    print(json.dumps({"model": str(args.model), "data": source.name, "examples": source.size,
                      "loss": float(loss), "accuracy": float(accuracy)}))
    return 0


def _naming_bad_files(sources, run):
    """Run; if decoding an image failed inside the pipeline, name the files that cannot be used."""
    import tensorflow as tf

    try:
        return run()
    except tf.errors.InvalidArgumentError:
        bad = [name for source in sources for name in source.unreadable_files()]
        if not bad:
            raise
        raise KerasLieError(
            f"{len(bad)} image file(s) cannot be used: {'; '.join(bad[:5])}. Fix or remove them and run again."
        ) from None


def _reproduce(args) -> int:
    import dataclasses

    from keras_lie.distribute import make_strategy
    from keras_lie.experiments import PRESETS, reproduce

    print(f"Preset {args.preset}: {dataclasses.replace(PRESETS[args.preset], **_overrides(args))}")
    summary = reproduce(
        args.preset, output_dir=args.output, **_overrides(args), schemes=tuple(s.strip() for s in args.schemes.split(",")),
        stem_modes=tuple(s.strip() for s in args.stem_inputs.split(",")), data_dir=args.data_dir,
        recalibrate_batch_norm=not args.no_recalibration, strategy=make_strategy(args.distribute),
        verbose=_progress_verbosity(),
    )
    from keras_lie.experiments import results_table

    print(results_table(summary))
    print(f"Wrote {args.output}/results.md, results.json, results.png")
    return 0


def _figure(args) -> int:
    import numpy as np

    from keras_lie.data.image_files import read_image
    from keras_lie.experiments import figure

    if args.images:
        images = np.stack([read_image(p)[..., :3] for p in args.images])
    elif args.data:
        from keras_lie.data import load_source

        source = load_source(args.data, "test", limit=args.count, seed=args.seed or 0)
        images = np.stack([image.numpy() for image, _ in source.dataset])
    else:
        raise KerasLieError("Give image files, or --data to take images from a dataset.")
    figure(images, args.output, block_size=args.block_size, seed=args.seed)
    print(f"Wrote {args.output}")
    return 0


def _security(args) -> int:
    import shlex

    import numpy as np

    command = "keras-lie " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else None
    if args.encrypted is not None:
        return _security_of_folder(args, command)

    from keras_lie.data import load_source
    from keras_lie.keys import generate_key, load_key
    from keras_lie.registry import scheme_record
    from keras_lie.security import security_report
    from keras_lie.training import train_small_classifier

    source = load_source(args.data, args.split, limit=args.images, seed=args.seed or 0)
    pairs = [(image.numpy(), int(label)) for image, label in source.dataset]
    images = np.stack([image for image, _ in pairs])
    labels = np.array([label for _, label in pairs])
    if args.key is not None:
        keys = [load_key(args.key)]
    else:
        block_sizes = [int(m) for m in args.block_sizes.split(",")]
        keys = [
            generate_key(scheme, block_size=m, channels=images.shape[-1], seed=args.seed, image_size=images.shape[1:3])
            for scheme in (s.strip() for s in args.schemes.split(","))
            for m in (block_sizes if scheme_record(scheme).takes_block_size else (None,))
        ]
    models = []
    if args.train_leakage:
        for key in keys:
            if "key-leakage" in scheme_record(key).attacks:
                for mode in ("bytes", "nibbles"):
                    print(f"Training a {mode}-stem model under the M={key.block_size} key ...", flush=True)
                    models.append(train_small_classifier(images, labels, key, mode, epochs=args.leakage_epochs))
    security_report(images, args.output, keys=keys, leakage_models=models, command=command)
    print(f"Wrote {args.output}/report.md, report.json and picture grids.")
    return 0


def _security_of_folder(args, command: str | None) -> int:
    """`security --encrypted FOLDER --key KEY`: the holder's own folder, attacked as its recipients can."""
    import numpy as np

    from keras_lie.data import load_source
    from keras_lie.io.dataset_manifest import read_manifest
    from keras_lie.keys import load_key
    from keras_lie.security.exposure import exposure_report

    if args.key is None:
        raise KerasLieError("security --encrypted needs the folder's key (--key KEY) to score what the attack "
                            "rebuilds; the attack itself never uses it.")
    manifest = read_manifest(args.encrypted)
    if manifest is None:
        raise KerasLieError(f"{args.encrypted} has no keras-lie manifest; give a folder written by "
                            "`keras-lie encrypt`.")
    key = load_key(args.key)
    if manifest.key_fingerprint != key.fingerprint:
        raise KerasLieError(f"{args.encrypted} was encrypted with key {manifest.key_fingerprint}, not with {args.key} "
                            f"({key.fingerprint}); give the key the folder was made with.")
    source = load_source(args.encrypted, args.split, limit=args.images, seed=args.seed or 0, encrypted=True)
    images = [image.numpy() for image, _ in source.dataset]
    if len({image.shape for image in images}) > 1:
        raise KerasLieError(f"{args.encrypted} holds images of several sizes; the attack takes one size at a time.")
    summary = exposure_report(np.stack(images), key, args.output, command=command)
    last = summary["ciphertext_only"][-1]
    print(f"A recipient of these {summary['images']} images rebuilds them at grey SSIM {last['ssim_reconstruction']:.2f} "
          f"without the key. Wrote {args.output}/exposure.md, exposure.json and exposure.png.")
    return 0


def _export(args) -> int:
    from keras_lie.models import export, export_encryptor, export_encryptor_tflite, export_tflite

    if args.encryptor:
        if args.key is None:
            raise KerasLieError("--encryptor needs --key.")
        if args.format == "tflite":
            if not args.image_size:
                raise KerasLieError("--format tflite --encryptor needs --image-size HxW (e.g. 480x640).")
            path = export_encryptor_tflite(args.key, args.output, _image_size(args.image_size), overwrite=args.overwrite)
        else:
            path = export_encryptor(args.key, args.output, overwrite=args.overwrite)
        print(f"Wrote the encryptor to {path}. It CONTAINS THE KEY: keep it as secret as the key file.")
        return 0
    if args.model is None:
        raise KerasLieError("Give --model (a .keras file), or --encryptor with --key.")
    from keras_lie.models.export import read_export_metadata

    model = _load_model(args.model)
    class_names = _run_class_names(args.model)
    if args.format == "tflite":
        path = export_tflite(model, args.output, overwrite=args.overwrite, class_names=class_names)
        print(f"Wrote {path} and {path.name}.json.")
        return 0
    path = export(model, args.output, overwrite=args.overwrite, class_names=class_names)
    print(f"Wrote SavedModel {path} ({json.dumps(read_export_metadata(path))}).")
    return 0


def _predict(args) -> int:
    import csv
    import io

    import numpy as np

    from keras_lie.data.image_files import read_image
    from keras_lie.io.atomic_files import IMAGE_SUFFIXES, atomic_write_bytes
    from keras_lie.io.dataset_manifest import MANIFEST_NAME, read_manifest
    from keras_lie.models import check_data, predict_classes

    model = _load_model(args.model)
    files = []
    for path in args.images:
        if not path.exists():
            raise KerasLieError(f"{path} does not exist.")
        if path.is_dir():
            manifest = read_manifest(path)
            if manifest is not None:
                check_data(model, encrypted=True, manifest=manifest)  # another scheme or key: refused
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and not p.name.startswith(".") and p.name != MANIFEST_NAME)
            if not found:
                raise KerasLieError(f"{path} holds no image files ({', '.join(IMAGE_SUFFIXES)}).")
            files += found
        else:
            files.append(path)
    images = [read_image(path) for path in files]
    if len({image.shape for image in images}) > 1:
        raise KerasLieError("The images have several sizes; the model takes one (its training size).")
    results = predict_classes(model, np.stack(images), class_names=_run_class_names(args.model), top=args.top,
                              batch_size=args.batch_size, check_plain=not args.not_plain)
    if args.format == "json":
        text = json.dumps([{"file": str(path), "predictions": [{"class": name, "probability": round(p, 6)}
                                                               for name, p in ranked]}
                           for path, ranked in zip(files, results, strict=True)], indent=1) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["file"] + [f"{field}_{k + 1}" if args.top > 1 else field
                                    for k in range(args.top) for field in ("class", "probability")])
        for path, ranked in zip(files, results, strict=True):
            writer.writerow([str(path)] + [value for name, p in ranked for value in (name, f"{p:.6f}")])
        text = buffer.getvalue()
    if args.output is None:
        sys.stdout.write(text)
    else:
        atomic_write_bytes(args.output, text.encode(), overwrite=args.overwrite)
        print(f"Wrote predictions for {len(files)} image(s) to {args.output}.")
    return 0


def _run_class_names(model_path: Path) -> list[str] | None:
    """The class names `train` recorded beside the model (its results.json), if any."""
    try:
        return json.loads((model_path.parent / "results.json").read_text())["metadata"]["class_names"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _image_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise KerasLieError(f"--image-size {text!r}: give HEIGHTxWIDTH, e.g. 480x640.") from None
    if height < 1 or width < 1:
        raise KerasLieError(f"--image-size {text!r}: sides must be positive.")
    return height, width


def _load_model(path: Path):
    from keras_lie.training import load_checkpoint

    if not path.is_file():
        raise KerasLieError(f"Model file {path} does not exist; train one with `keras-lie train`.")
    try:
        return load_checkpoint(path)
    except (ValueError, OSError) as error:
        raise KerasLieError(f"Cannot load {path} as a Keras model: {str(error).splitlines()[0]}") from None


def _keygen(args) -> int:
    from keras_lie.keys import ELEKey, EtCKey, LearnableKey, canonical_scheme_name, generate_key
    from keras_lie.registry import scheme_record

    scheme = canonical_scheme_name(args.scheme)
    if args.from_reference is not None and args.from_reference.suffix == ".npz":
        if scheme == "ele":
            key = ELEKey.from_reference_npz(args.from_reference)
        elif scheme == "etc":
            key = EtCKey.from_reference_npz(args.from_reference, colour_shuffle=args.colour_shuffle.replace("-", "_"))
        else:
            raise KerasLieError(f"{args.from_reference}: a reference .npz key is an ele or etc key; "
                                "add --scheme ele or --scheme etc.")
    elif args.from_reference is not None:
        key = LearnableKey.from_reference_pickle(args.from_reference)
    else:
        image_size = _image_size(args.image_size) if args.image_size else None
        if image_size is not None and not scheme_record(scheme).is_position_keyed:
            raise KerasLieError(f"--image-size is for ele and etc keys; a {scheme} key fits images of any size.")
        key = generate_key(scheme, args.block_size, args.channels, seed=args.seed, image_size=image_size)
    key.save(args.output, overwrite=args.overwrite)
    print(f"Wrote {key.scheme} key {key.short_fingerprint} to {args.output} (mode 0600).")
    if args.seed is not None:
        print("Note: a key derived from a seed is reproducible by anyone who knows the seed.")
    return 0


def _location(text: str) -> Path | str:
    """A local path, or a URL kept as it is (Path would fold gs://bucket into gs:/bucket)."""
    from keras_lie.io.atomic_files import is_url

    return text if is_url(text) else Path(text)


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
    import warnings

    from keras_lie.data.image_files import DEFAULT_MAX_PIXELS, transform_path
    from keras_lie.keys import load_key

    max_pixels = DEFAULT_MAX_PIXELS if args.max_pixels is None else (args.max_pixels or None)
    if getattr(args, "format", "png") == "tfds":
        return _encrypt_to_tfds(args, max_pixels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        report = transform_path(
            args.source, args.destination, load_key(args.key), args.direction,
            padding=args.padding, overwrite=args.overwrite, resume=args.resume,
            progress=not args.quiet and sys.stdout.isatty(), max_pixels=max_pixels,
        )
    for warning in caught:
        print(f"keras-lie: warning: {warning.message}", file=sys.stderr)
    verb = "Encrypted" if args.direction == "encrypt" else "Decrypted"
    if report.resumed:
        removed = (f", removed {report.removed_temporaries} temporary file(s) of the interrupted run"
                   if report.removed_temporaries else "")
        print(f"Resumed {args.destination}: {len(report.resumed)} file(s) were complete{removed}; "
              f"{verb.lower()} {len(report.written)} more.")
    elif report.written:
        print(f"{verb} {len(report.written)} file(s) into {args.destination}.")
    if report.skipped:
        kinds = ", ".join(sorted({path.suffix.lower() or "(no suffix)" for path in report.skipped}))
        print(f"keras-lie: skipped {len(report.skipped)} file(s) that are not PNG, JPEG, BMP or GIF images ({kinds}).",
              file=sys.stderr)
    if report.jpeg_note and report.written:
        print(f"keras-lie: note: {report.jpeg_note}", file=sys.stderr)
    for _path, reason in report.failures:
        print(f"keras-lie: failed: {reason}", file=sys.stderr)
    if report.failures:
        print(f"keras-lie: error: {len(report.failures)} file(s) failed.", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _encrypt_to_tfds(args, max_pixels) -> int:
    import shlex

    from keras_lie.shards import encrypt_to_tfds

    if args.resume or args.overwrite or args.padding != "error":
        raise KerasLieError("--format tfds writes a new dataset folder: --resume, --overwrite and --padding do not "
                            "apply (re-running after an interruption does the work again).")
    pipeline_args = ([f"--runner={args.runner}"] if args.runner else []) + shlex.split(args.beam_options)
    run = functools.partial(encrypt_to_tfds, args.source, args.destination, args.key, num_shards=args.num_shards,
                            max_pixels=max_pixels, pipeline_args=pipeline_args)
    report = run() if args.verbose else _with_worker_logs_hidden(run)
    manifest = report.manifest
    total = sum(sum(counts.values()) for counts in manifest.counts.values())
    print(f"Encrypted {total} image(s) into {len(manifest.shards)} shard(s) of a TFDS dataset at {report.output} "
          f"(splits: {', '.join(sorted(manifest.counts))}).")
    for name, reason in report.failures:
        print(f"keras-lie: failed: {reason if name in reason else f'{name}: {reason}'}", file=sys.stderr)
    if report.failures:
        print(f"keras-lie: error: {len(report.failures)} file(s) failed; they are listed in the manifest too.",
              file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _with_worker_logs_hidden(function):
    """Run `function` with stderr (inherited by Beam's worker processes) in a scratch file.

    Beam's workers each log their start-up, TensorFlow's import and Beam's own
    progress (dozens of lines); the log is shown only if the run fails.
    """
    import tempfile

    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as log:
        os.dup2(log.fileno(), 2)
        try:
            return function()
        except BaseException as error:
            os.dup2(saved, 2)
            log.seek(0)
            tail = log.read().decode(errors="replace").splitlines()[-20:]
            if tail and not isinstance(error, KerasLieError):  # keras-lie's own errors say it all
                print("keras-lie: the pipeline's last log lines:\n" + "\n".join(tail), file=sys.stderr)
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _version() -> str:
    from keras_lie.version import __version__

    return f"keras-lie {__version__}"


if __name__ == "__main__":
    sys.exit(main())
