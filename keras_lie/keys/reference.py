"""Importers of the key files of the authors' reference code: a pickle (learnable) and `.npz` archives (ELE, EtC).

Reference key files are untrusted input. The pickle is read with an unpickler
that admits only what rebuilding a small integer numpy array needs, and the
`.npz` archives without pickles and with every size checked before any array
is decompressed. An imported key has the origin "reference": anyone who has the
published file can decrypt with it.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_lie.blocks import nibbles_per_block
from keras_lie.errors import KeyFileError, KeyMismatchError
from keras_lie.keys.file_format import _read_regular_file
from keras_lie.keys.validation import MAX_BLOCK_SIZE, MAX_CHANNELS, _bounded_int, _image_size

if TYPE_CHECKING:
    from keras_lie.keys.permutation import LearnableKey
    from keras_lie.keys.position_keyed import ELEKey, EtCKey

MAX_REFERENCE_PICKLE_BYTES = 1024 * 1024
MAX_REFERENCE_NPZ_BYTES = 16 * 1024 * 1024


# -- the learnable encryption's pickle ---------------------------------------------------


def learnable_key_from_reference_pickle(cls: type[LearnableKey], path: str | os.PathLike) -> LearnableKey:
    """`LearnableKey.from_reference_pickle`: a pickle of `[[M, M, C], key]` as the authors' code writes it."""
    path = Path(path)
    data = _read_regular_file(path, MAX_REFERENCE_PICKLE_BYTES, "reference key pickle")
    try:
        loaded = _unstub(_RestrictedUnpickler(io.BytesIO(data)).load())
    except KeyFileError as error:
        raise KeyFileError(f"{path}: {error}") from None
    except RecursionError:
        raise KeyFileError(f"{path} is not a readable reference key pickle (nested far too deep).") from None
    except Exception as error:  # noqa: BLE001 - any malformed pickle is a bad key file
        raise KeyFileError(
            f"{path} is not a readable reference key pickle ({type(error).__name__}: {error})."
        ) from None
    if (
        not isinstance(loaded, (list, tuple))
        or len(loaded) != 2
        or not isinstance(loaded[0], (list, tuple))
        or len(loaded[0]) != 3
        or not isinstance(loaded[1], np.ndarray)
    ):
        raise KeyFileError(
            f"{path} does not hold [[M, M, C], key] as the reference code writes it."
        )
    (rows, cols, channels), permutation = loaded
    if not all(isinstance(v, (int, np.integer)) for v in (rows, cols, channels)):
        raise KeyFileError(f"{path}: block shape {loaded[0]!r} is not three integers.")
    if rows != cols:
        raise KeyFileError(f"{path}: blocks of {rows}x{cols} are not square; keras-lie needs M x M.")
    if permutation.dtype.kind not in "iu":
        raise KeyFileError(f"{path}: the key array has dtype {permutation.dtype}, not integers.")
    key = cls(int(rows), int(channels), permutation.astype(np.int64))
    key.origin = "reference"  # a published key: anyone can decrypt with it
    return key


class _ArrayStub:
    """Stands in for a pickled numpy array until its shape and size are checked.

    numpy's pickles call `_reconstruct(ndarray, shape, dtype)` and then
    `__setstate__((version, shape, dtype, fortran, raw_bytes))`. Here neither
    allocates: the state is checked (1-D, at most the longest key, bytes that
    match the shape exactly) before the array is built from the bytes given.
    """

    MAX_LENGTH = 2 * MAX_BLOCK_SIZE * MAX_BLOCK_SIZE * MAX_CHANNELS

    def __init__(self, *args):
        self.array: np.ndarray | None = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5:
            raise KeyFileError("the key array's pickled state is malformed")
        _, shape, dtype, _, raw = state
        if not (isinstance(shape, tuple) and len(shape) == 1 and isinstance(shape[0], int)):
            raise KeyFileError(f"the key array has shape {shape!r}; a key is one list of integers")
        if not 0 <= shape[0] <= self.MAX_LENGTH:
            raise KeyFileError(f"the key array has {shape[0]} entries, more than any key ({self.MAX_LENGTH})")
        if not isinstance(dtype, np.dtype) or dtype.kind not in "iu" or dtype.itemsize > 8:
            raise KeyFileError(f"the key array has dtype {dtype!r}, not integers")
        if not isinstance(raw, bytes) or len(raw) != shape[0] * dtype.itemsize:
            raise KeyFileError("the key array's data does not match its shape")
        self.array = np.frombuffer(raw, dtype=dtype).copy()


def _unstub(value):
    if isinstance(value, _ArrayStub):
        if value.array is None:
            raise KeyFileError("the key array has no data")
        return value.array
    if isinstance(value, (list, tuple)):
        return type(value)(_unstub(v) for v in value)
    return value


def _safe_dtype(name, align=False, copy=False):
    if not isinstance(name, str) or name.lstrip("<>=|") not in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"):
        raise KeyFileError(f"the key array has dtype {name!r}, not integers")
    return np.dtype(name)


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only what rebuilding a small integer numpy array needs, and allocates nothing unchecked."""

    def find_class(self, module: str, name: str):
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _ArrayStub,
            ("numpy._core.multiarray", "_reconstruct"): _ArrayStub,  # NumPy 1 and 2 pickles both exist
            ("numpy", "ndarray"): _ArrayStub,
            ("numpy", "dtype"): _safe_dtype,
        }
        if (module, name) not in allowed:
            raise KeyFileError(
                f"the pickle names the global {module}.{name}, which a key never needs; "
                "refusing to load it (it may be malicious)."
            )
        return allowed[(module, name)]


# -- the position-keyed schemes' .npz archives ---------------------------------------------


def ele_key_from_reference_npz(cls: type[ELEKey], path: str | os.PathLike) -> ELEKey:
    """`ELEKey.from_reference_npz`: the arrays of `ele_key_m4.npz` and its like."""
    arrays = _read_reference_npz(path, ("block_size", "image_size", "nibble_key", "block_perm"),
                                 ("grid", "nibble_reverse"))
    block_size, image_size = _reference_geometry(path, arrays)
    nibble_keys = arrays["nibble_key"]
    channels = nibble_keys.shape[-1] // (2 * block_size * block_size) if nibble_keys.ndim == 2 else 0
    if channels < 1 or nibble_keys.shape[-1] != nibbles_per_block(block_size, channels):
        raise KeyFileError(f"{path}: nibble_key has shape {nibble_keys.shape}, not (blocks, 2*M*M*C).")
    try:
        key = cls(block_size, channels, image_size, nibble_keys.astype(np.int64), arrays["block_perm"])
    except (KeyFileError, KeyMismatchError) as error:
        raise KeyFileError(f"{path}: {error}") from None
    if "nibble_reverse" in arrays and not np.array_equal(arrays["nibble_reverse"], key.reversal_masks):
        raise KeyFileError(f"{path}: nibble_reverse is not the mask nibble_key > M*M*C; the file was edited.")
    key.origin = "reference"
    return key


def etc_key_from_reference_npz(cls: type[EtCKey], path: str | os.PathLike, *, colour_shuffle: str = "permute") -> EtCKey:
    """`EtCKey.from_reference_npz`: the arrays of `etc_key_m4.npz` and its like."""
    if colour_shuffle not in cls.COLOUR_SHUFFLES:
        raise ValueError(f"colour_shuffle must be one of {', '.join(cls.COLOUR_SHUFFLES)}, not {colour_shuffle!r}.")
    channels_field = "channel_perm" if colour_shuffle == "permute" else "channel_src_paper_code"
    arrays = _read_reference_npz(
        path, ("block_size", "image_size", "rotation_ccw", "negative", "flip_vertical", "flip_horizontal",
               channels_field, "block_perm"), ("grid",))
    block_size, image_size = _reference_geometry(path, arrays)
    sources = arrays[channels_field]
    if sources.ndim != 2:
        raise KeyFileError(f"{path}: {channels_field} has shape {sources.shape}, not (blocks, C).")
    try:
        key = cls(block_size, int(sources.shape[1]), image_size, rotations=arrays["rotation_ccw"],
                  negative=arrays["negative"], flip_vertical=arrays["flip_vertical"],
                  flip_horizontal=arrays["flip_horizontal"], channel_sources=sources,
                  block_permutation=arrays["block_perm"], colour_shuffle=colour_shuffle)
    except (KeyFileError, KeyMismatchError) as error:
        raise KeyFileError(f"{path}: {error}") from None
    key.origin = "reference"
    return key


def _read_reference_npz(path: str | os.PathLike, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
    """The named arrays of a reference key `.npz`, read without pickles and with every size checked first."""
    path = Path(path)
    data = _read_regular_file(path, MAX_REFERENCE_NPZ_BYTES, "reference key file")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    except zipfile.BadZipFile:
        raise KeyFileError(f"{path} is not a NumPy .npz archive.") from None
    missing = [name for name in required if name not in members]
    if missing:
        raise KeyFileError(f"{path} lacks the array(s) {', '.join(missing)}; it is not a reference key of this scheme.")
    arrays = {}
    for name in (*required, *(name for name in optional if name in members)):
        if members[name].file_size > MAX_REFERENCE_NPZ_BYTES:
            raise KeyFileError(f"{path}: array {name} unpacks to {members[name].file_size:,} bytes, more than any key.")
        try:
            arrays[name] = np.load(io.BytesIO(archive.read(members[name])), allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
            raise KeyFileError(f"{path}: array {name} is not a plain NumPy array ({error}).") from None
        if arrays[name].dtype.kind not in "iub":
            raise KeyFileError(f"{path}: array {name} has dtype {arrays[name].dtype}, not integers.")
    return arrays


def _reference_geometry(path, arrays: dict) -> tuple[int, tuple[int, int]]:
    """Block size and image size of a reference key file, with its grid (if any) checked against them."""
    block_size, image_size = arrays["block_size"], arrays["image_size"]
    if block_size.shape != () or image_size.shape != (2,):
        raise KeyFileError(f"{path}: block_size must be one integer and image_size two.")
    block_size = _bounded_int(int(block_size), "block_size", MAX_BLOCK_SIZE)
    try:
        height, width = _image_size(tuple(int(v) for v in image_size), block_size)
    except KeyMismatchError as error:
        raise KeyFileError(f"{path}: {error}") from None
    if "grid" in arrays and arrays["grid"].tolist() != [height // block_size, width // block_size]:
        raise KeyFileError(f"{path}: grid {arrays['grid'].tolist()} does not match image_size {[height, width]} "
                           f"in blocks of {block_size}.")
    return block_size, (height, width)
