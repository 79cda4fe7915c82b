"""Export for serving: the operator's classifier and the camera's encryptor, as SavedModel or TFLite."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from keras_lie.errors import KerasLieError
from keras_lie.io.atomic_files import atomic_write_bytes
from keras_lie.keys import Key, as_key
from keras_lie.layers.base_cipher_layer import BaseCipherLayer
from keras_lie.models.classifier import encryption_info, walk_layers
from keras_lie.schemes import get_scheme
from keras_lie.schemes._gather import apply_plan_arithmetic
from keras_lie.version import __version__

METADATA_FILE = "keras_lie.json"


def export(model: keras.Model, path: str | os.PathLike, *, overwrite: bool = False,
           class_names: list[str] | None = None) -> Path:
    """Export a classifier as a TensorFlow SavedModel for serving encrypted images.

    The `serving_default` signature takes `images`: uint8 `(N, H, W, C)` encrypted
    images and returns `probabilities`: float32 `(N, classes)`. A `metadata`
    signature and the asset `keras_lie.json` give the scheme and the key's
    fingerprint (never the key). Loading needs TensorFlow only:

        served = tf.saved_model.load(path)
        served.signatures["serving_default"](images=batch)["probabilities"]

    The SavedModel is written to a temporary folder and renamed into place.

    Raises:
        KerasLieError: the model contains an `Encrypt` or `Decrypt` layer. Its
            graph would hold the key in the clear, and a classifier is meant to be
            handed out; export the camera side with `export_encryptor` (a file as
            secret as the key) and the classifier without the cipher layer.
    """
    _refuse_cipher_layers(model)
    height, width, channels = model.input_shape[1:]
    info = encryption_info(model)
    metadata = {
        "format": "keras-lie-classifier",
        "keras_lie_version": __version__,
        "scheme": info.scheme if info else None,
        "key_fingerprint": info.key_fingerprint if info else None,
        "input_shape": [height, width, channels],
        "num_classes": int(model.output_shape[-1]),
        "class_names": class_names,
    }
    outputs_probabilities = _output_activation(model) is keras.activations.softmax

    module = tf.Module()
    module.model = model

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, channels], tf.uint8, name="images")])
    def serve(images):
        outputs = model(tf.cast(images, tf.float32), training=False)
        outputs = tf.cast(outputs, tf.float32)
        return {"probabilities": outputs if outputs_probabilities else tf.nn.softmax(outputs)}

    text = json.dumps(metadata)

    @tf.function(input_signature=[])
    def metadata_signature():
        return {"metadata": tf.constant(text)}

    module.serve, module.metadata = serve, metadata_signature
    return _save_atomically(
        module, path, {"serving_default": serve, "metadata": metadata_signature}, text, overwrite, secret=False
    )


def export_encryptor(key: Key | str | os.PathLike, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Export the camera side: a SavedModel that encrypts uint8 images with `key`.

    THIS FILE CONTAINS THE KEY: whoever has it can encrypt and, by reading the
    graph, decrypt. Keep it as secret as the key file (it is written owner-only).
    Signature `serving_default`: `images` uint8 `(N, H, W, C)` -> `encrypted`.
    """
    key = as_key(key)
    scheme = get_scheme(key, jit_compile=False)
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, key.channels], tf.uint8, name="images")])
    def encrypt(images):
        return {"encrypted": scheme.encrypt(images)}

    module.encrypt = encrypt
    text = json.dumps(
        {"format": "keras-lie-encryptor", "keras_lie_version": __version__, "scheme": key.scheme,
         "key_fingerprint": key.fingerprint, "secret": True}
    )
    return _save_atomically(module, path, {"serving_default": encrypt}, text, overwrite, secret=True)


def _refuse_cipher_layers(model: keras.Model) -> None:
    cipher_layers = [layer.name for layer in walk_layers(model) if isinstance(layer, BaseCipherLayer)]
    if cipher_layers:
        raise KerasLieError(
            f"The model contains the cipher layer(s) {', '.join(cipher_layers)}, whose exported graph would give "
            "away the key. Export the classifier without them (it takes encrypted images), and the camera's "
            "encryption with keras_lie.models.export_encryptor (`keras-lie export --encryptor --key KEY`), "
            "which is written owner-only and must be kept as secret as the key."
        )


def _output_activation(model: keras.Model):
    """The activation of the layer that produces the model's output (through nested models)."""
    layer = model.layers[-1]
    while isinstance(layer, keras.Model):
        layer = layer.layers[-1]
    return getattr(layer, "activation", None)


def read_export_metadata(path: str | os.PathLike) -> dict:
    """The metadata (scheme, key fingerprint, shapes) of an exported SavedModel."""
    asset = Path(path) / "assets" / METADATA_FILE
    try:
        return json.loads(asset.read_text())
    except (OSError, json.JSONDecodeError):
        raise KerasLieError(f"{path} is not a SavedModel exported by keras-lie (no {METADATA_FILE}).") from None


def _replaceable(path: Path) -> bool:
    """Only a SavedModel (it has saved_model.pb) or an empty folder may be replaced."""
    if path.is_symlink() or not path.is_dir():
        return False
    return (path / "saved_model.pb").is_file() or not any(path.iterdir())


def _save_atomically(module, path, signatures, metadata_text, overwrite, secret):
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another path or pass overwrite=True, --overwrite.")
    if path.exists() and not _replaceable(path):
        raise KerasLieError(
            f"{path} exists and is neither a SavedModel nor an empty folder; refusing to replace it even with "
            "overwrite=True, --overwrite. Choose another path."
        )
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)  # serving layouts: served/<name>/<version>
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=parent))
    try:
        with tempfile.TemporaryDirectory() as scratch:
            asset_file = Path(scratch) / METADATA_FILE
            asset_file.write_text(metadata_text)
            module.metadata_asset = tf.saved_model.Asset(str(asset_file))
            tf.saved_model.save(module, str(staging / "model"), signatures=signatures)
        if secret:
            for root, folders, files in os.walk(staging):
                for name in folders:
                    os.chmod(os.path.join(root, name), 0o700)
                for name in files:
                    os.chmod(os.path.join(root, name), 0o600)
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging / "model", path)
        if secret:
            os.chmod(path, 0o700)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


EXPORT_FORMATS = ("saved_model", "tflite")


def export_tflite(model: keras.Model, path: str | os.PathLike, *, overwrite: bool = False,
                  class_names: list[str] | None = None) -> Path:
    """Export a classifier as a TFLite flatbuffer through Keras' own export (`format="litert"`).

    The flatbuffer has the SavedModel's signature (`serving_default`): `images`,
    uint8 `(N, H, W, C)` encrypted images with a dynamic batch size, to
    `probabilities`, float32 `(N, classes)`:
    `tf.lite.Interpreter(model_path=path).get_signature_runner()(images=batch)["probabilities"]`.
    `<path>.json` beside it gives the scheme, the key's fingerprint (never the
    key), the input shape and dtype and the class names.
    A model holding `Encrypt`/`Decrypt` layers is refused, as by `export`.
    """
    _refuse_cipher_layers(model)
    path = _new_file(path, ".tflite", overwrite)
    height, width, channels = model.input_shape[1:]
    # The cast is inside the flatbuffer, so a camera hands over its uint8 frames as they are.
    images = keras.Input((height, width, channels), dtype="uint8", name="images")
    served = keras.Model(images, {"probabilities": keras.ops.cast(model(keras.ops.cast(images, "float32")), "float32")})
    staging = path.with_name(f".{path.name}.staging.tflite")
    try:
        served.export(str(staging), format="litert", verbose=False,
                      input_signature=[tf.TensorSpec((None, height, width, channels), tf.uint8, name="images")])
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    info = encryption_info(model)
    metadata = {"format": "keras-lie-classifier-tflite", "keras_lie_version": __version__,
                "scheme": info.scheme if info else None, "key_fingerprint": info.key_fingerprint if info else None,
                "input_shape": [None, height, width, channels], "input_dtype": "uint8",
                "num_classes": int(model.output_shape[-1]), "class_names": class_names}
    atomic_write_bytes(path.with_name(path.name + ".json"), json.dumps(metadata, indent=1).encode(), overwrite=True)
    return path


def export_encryptor_tflite(key: Key | str | os.PathLike, path: str | os.PathLike, image_size: tuple[int, int], *,
                            overwrite: bool = False) -> Path:
    """Export the camera side as a TFLite flatbuffer with builtin ops only (no Flex delegate).

    Input uint8 `(N, H, W, C)` frames of `image_size` (H, W); output the encrypted
    frames, bit for bit those of `keras_lie.encrypt` (the bit operations are
    written as integer arithmetic, which TFLite's builtin ops run). THE FILE
    CONTAINS THE KEY and is written owner-only (0600).
    """
    key = as_key(key)
    height, width = (int(v) for v in image_size)
    scheme = get_scheme(key, jit_compile=False)
    scheme.check_spatial_shape(height, width)
    with tf.init_scope():
        plan = scheme.plan(height, width, "encrypt")
    channels = key.channels

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, channels], tf.uint8, name="images")],
                 autograph=False)
    def encrypt(images):
        flat = tf.reshape(images, [-1, height * width * channels])
        encrypted = flat if plan is None else apply_plan_arithmetic(flat, plan)
        return {"encrypted": tf.reshape(encrypted, [-1, height, width, channels])}

    path = _new_file(path, ".tflite", overwrite)
    module = tf.Module()
    module.encrypt = encrypt
    # Through a SavedModel (in a private scratch folder, removed after), so that the
    # flatbuffer keeps the `serving_default` signature with named inputs and outputs.
    with tempfile.TemporaryDirectory() as scratch:
        tf.saved_model.save(module, scratch, signatures={"serving_default": encrypt})
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    atomic_write_bytes(path, flatbuffer, mode=0o600, overwrite=overwrite)
    return path


def _new_file(path, suffix: str, overwrite: bool) -> Path:
    path = Path(path)
    if path.suffix != suffix:
        raise KerasLieError(f"{path}: a TFLite model is one file; give a name ending in {suffix}.")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another path or pass overwrite=True, --overwrite.")
    if path.is_dir():
        raise KerasLieError(f"{path} is a folder; give a file name ending in {suffix}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
