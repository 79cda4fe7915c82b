"""The `Scheme` base class: input checking, dtype handling, eager/XLA dispatch."""

from __future__ import annotations

import collections
import functools
import threading
from typing import ClassVar, Literal

import numpy as np
import tensorflow as tf

from keras_lie.errors import ImageShapeError, ImageValueError, KeyMismatchError
from keras_lie.keys import Key
from keras_lie.options import PADDING_MODES
from keras_lie.schemes._gather import (
    LANE_WORD,
    LANES,
    BytePlan,
    NibblePlan,
    apply_plan,
    lane_plan,
    pack_lanes,
    packing_xor,
    unpack_lanes,
)

Direction = Literal["encrypt", "decrypt"]
Padding = Literal["error", "replicate"]
_PLAN_CACHE_SIZE = 8  # image sizes whose gather plans a scheme keeps
_PIECE_BYTES = 32 << 20  # the largest piece of a batch one compiled call takes
_CALL_COST_BYTES = 1 << 20  # one compiled call's overhead, in bytes of images it could have transformed (CPU)


class Scheme:
    """An image encryption scheme bound to a key.

    `encrypt` and `decrypt` take uint8 images, or floats (or other integer
    dtypes) holding integers in [0, 255], batched `(N, H, W, C)` or single
    `(H, W, C)`, as NumPy arrays or tensors, and return the same dtype, shape and
    kind (NumPy in, NumPy out). Both are written in TensorFlow ops, so they run
    inside `tf.function`, `tf.data.Dataset.map`, XLA and SavedModels. Called
    eagerly, they run an XLA-compiled function (one compilation per input
    shape) unless the scheme was made with `jit_compile=False`; on a CPU, nibble
    schemes then run the lane kernel of `keras_lie.schemes._gather` when a
    batch has at least eight units that share one plan.

    Args:
        key: a key of this scheme.
        jit_compile: compile eager calls with XLA (much faster on CPU and GPU).
    """

    name: ClassVar[str] = ""
    key_class: ClassVar[type[Key]] = Key
    #: One key map serves every block, so the plan of (H, W) images is the plan
    #: of one (M, W) row of blocks, repeated down the image.
    same_map_in_every_block: ClassVar[bool] = False

    def __init__(self, key: Key, *, jit_compile: bool = True):
        if not isinstance(key, self.key_class):
            raise KeyMismatchError(
                f"{type(self).__name__} needs a {self.key_class.scheme!r} key, got a "
                f"{getattr(key, 'scheme', type(key).__name__)!r} key; use the scheme of the "
                "key (keras_lie.get_scheme(key)) or a key of this scheme."
            )
        self.key = key
        self.jit_compile = bool(jit_compile)
        self._compiled: collections.OrderedDict = collections.OrderedDict()
        self._plans: collections.OrderedDict = collections.OrderedDict()
        self.trace_count = 0  # Python traces of the compiled transforms (each costs a compile)
        self._warm: dict = {}  # (direction, H, W) -> the thread compiling its piece sizes
        self._lock = threading.RLock()

    @property
    def block_size(self) -> int:
        return self.key.block_size

    @property
    def channels(self) -> int:
        return self.key.channels

    @property
    def fixed_image_size(self) -> tuple[int, int] | None:
        """The one (H, W) the key fits, for schemes keyed per block position; None for any size."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"

    # -- public API -------------------------------------------------------------------
    def encrypt(self, images, *, padding: Padding = "error"):
        """Encrypt images; see the class docstring for accepted inputs."""
        return self._transform(images, "encrypt", padding)

    def decrypt(self, images, *, padding: Padding = "error"):
        """Decrypt images encrypted with the same key: decrypt(encrypt(x)) == x."""
        return self._transform(images, "decrypt", padding)

    # -- what a scheme defines ------------------------------------------------------------
    def plan(self, height, width, direction: Direction) -> BytePlan | NibblePlan | None:
        """The gather plan for (H, W) images; None for the identity."""
        raise NotImplementedError

    def check_spatial_shape(self, height: int, width: int) -> None:
        """Raise ImageShapeError if the scheme cannot take (H, W) images."""
        m = self.block_size
        if height % m or width % m:
            raise ImageShapeError(
                f"Image sides {height}x{width} are not multiples of the block size {m}; "
                f"crop or resize them to multiples of {m}, or pass padding='replicate' (--padding replicate) "
                "to repeat the last row and column."
            )

    def padded_shape(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) that padding='replicate' produces."""
        m = self.block_size
        return -(-height // m) * m, -(-width // m) * m

    # -- machinery ---------------------------------------------------------------------
    def transform_uint8(self, images: tf.Tensor, direction: Direction) -> tf.Tensor:
        """Encrypt or decrypt a checked uint8 batch (N, H, W, C) with TF ops only."""
        shape = tf.shape(images)
        height, width = images.shape[1], images.shape[2]
        if height is None or width is None:
            height, width = self.fixed_image_size or (None, None)  # checked at run time by _pad_or_check
        if height is not None and width is not None:
            plan = self._cached_plan(height, width, direction)
        else:
            plan = self.plan(shape[1], shape[2], direction)
        if plan is None:
            return tf.identity(images)
        flat = tf.reshape(images, tf.stack([shape[0], -1]))
        return tf.reshape(apply_plan(flat, plan), shape)

    def _cached_plan(self, height: int, width: int, direction: Direction):
        """The plan for a static size, computed once, eagerly, and reused as constants.

        Computing the index inside every call would cost as much as the
        encryption itself on large images (XLA does not fold it away).
        """
        cache_key = (height, width, direction)
        if cache_key not in self._plans:
            with tf.init_scope():  # eager even while a tf.function or tf.data map traces
                self._plans[cache_key] = self.plan(height, width, direction)
            if len(self._plans) > _PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        self._plans.move_to_end(cache_key)
        return self._plans[cache_key]

    def _compiled_transform(self, direction: Direction, height: int, width: int):
        """One XLA function per direction and image size, traced once for any batch size.

        The batch axis is free in the signature, so new batch sizes reuse the trace
        (XLA still specialises its compiled kernel per concrete shape, cheaply).
        Returned as its concrete function (see `_memoised_function`).
        """

        def make():
            def transform(images):
                self.trace_count += 1
                return self.transform_uint8(images, direction)

            signature = [tf.TensorSpec([None, height, width, self.channels], tf.uint8)]
            return tf.function(transform, input_signature=signature, jit_compile=True, autograph=False)

        return self._memoised_function(("fused", direction, height, width), make)

    def _lane_transform(self, direction: Direction, unit_height: int, width: int):
        """The lane kernel for images cut into (unit_height, width) units; None without a nibble plan.

        Three XLA functions (pack, apply the plan to the words, unpack), each
        traced once for any number of units, called from one graph function:
        one dispatch from Python instead of three (measured about 10% of the
        whole on 10,000 CIFAR images). Returned as its concrete function.
        """

        def make():
            plan = self._cached_plan(unit_height, width, direction)
            if not isinstance(plan, NibblePlan):
                return None
            unit_bytes = unit_height * width * self.channels
            xor = packing_xor(plan)

            def apply(words):
                self.trace_count += 1
                return apply_plan(words, lane_plan(plan))

            apply_to_words = tf.function(
                apply, input_signature=[tf.TensorSpec([None, unit_bytes], LANE_WORD)], jit_compile=True,
                autograph=False,
            )

            def transform(images):
                units = tf.reshape(images, [-1, unit_bytes])
                words = pack_lanes(units, tf.constant(xor))
                return tf.reshape(unpack_lanes(apply_to_words(words), units), tf.shape(images))

            signature = [tf.TensorSpec([None, None, width, self.channels], tf.uint8)]
            return tf.function(transform, input_signature=signature, autograph=False)

        return self._memoised_function(("lanes", direction, unit_height, width), make)

    def _memoised_function(self, cache_key, make):
        """`make()`'s concrete function, once per cache key (None included); the least recently used go beyond the bound.

        Kept as the `ConcreteFunction` of its input signature: calling it skips the `tf.function`
        dispatch (argument binding and trace-cache lookup), measured at about 70 µs of the 160 µs
        that a call on 8 images takes. It cannot retrace, and it does not check shapes either: the
        cache key holds every static dimension of the signature, and callers pick the function by it.
        """
        with self._lock:  # the piece sizes are compiled on a second thread too
            if cache_key not in self._compiled:
                function = make()
                self._compiled[cache_key] = None if function is None else function.get_concrete_function()
                if len(self._compiled) > 8 * _PLAN_CACHE_SIZE:
                    self._compiled.popitem(last=False)
            self._compiled.move_to_end(cache_key)
            return self._compiled[cache_key]

    def _eager_transform(self, images: tf.Tensor, direction: Direction) -> tf.Tensor:
        """The compiled transform of a checked uint8 batch, in pieces of the sizes XLA has compiled.

        XLA compiles its kernel per concrete shape, so a batch is cut into pieces
        of a few fixed sizes (`_piece_sizes`), all compiled at the first call for an
        image size (the sizes this call needs at once, the others on a second
        thread meanwhile): afterwards no batch size compiles anything.
        """
        height, width = images.shape[1], images.shape[2]
        sizes = self._piece_sizes(height, width)
        with self._lock:
            if (direction, height, width) not in self._warm:
                compiling = threading.Thread(target=self._compile_pieces, args=(direction, height, width, sizes),
                                             name="keras-lie piece compilation")
                self._warm[direction, height, width] = compiling
                compiling.start()
        # A call costs about as much as transforming 1 MB more: padding a piece up is cheaper than that.
        overhead = max(1, _CALL_COST_BYTES // (height * width * self.channels))
        pieces = _split_batch(images.shape[0], sizes, overhead)
        if len(pieces) == 1:
            return self._padded_piece(direction, height, width, pieces[0][0])(images)
        parts = tf.split(images, [used for _, used in pieces])
        return tf.concat([self._padded_piece(direction, height, width, size)(part)
                          for (size, _), part in zip(pieces, parts, strict=True)], axis=0)

    def _compile_pieces(self, direction: Direction, height: int, width: int, sizes: tuple[int, ...]) -> None:
        """Compile the kernel of every piece size by running it once on zeros."""
        try:
            for size in sizes:
                self._padded_piece(direction, height, width, size)(
                    tf.zeros([size, height, width, self.channels], tf.uint8))
        except Exception:  # noqa: BLE001 - the call that needs this kernel raises the same error itself
            return

    def _piece_sizes(self, height: int, width: int) -> tuple[int, ...]:
        """The batch sizes compiled for (H, W) images: the largest about 32 MB, then each an eighth, and 1."""
        top = 1 << max(0, (_PIECE_BYTES // (height * width * self.channels)).bit_length() - 1)
        sizes = [top]
        while sizes[-1] > 16:
            sizes.append(sizes[-1] // 8)
        return tuple(sizes) if sizes[-1] == 1 else (*sizes, 1)

    def _piece_kernel(self, direction: Direction, height: int, width: int, size: int):
        """The kernel for a piece of `size` images: the lane kernel where it applies, else the fused gather."""
        unit_height = self.block_size if self.same_map_in_every_block else height
        if size * (height // unit_height) >= LANES and _only_cpus():
            lanes = self._lane_transform(direction, unit_height, width)
            if lanes is not None:
                return lanes
        return self._compiled_transform(direction, height, width)

    def _padded_piece(self, direction: Direction, height: int, width: int, size: int):
        """Up to `size` images, padded to `size` for the kernel and cut back: one dispatch, one compiled shape."""

        def make():
            kernel = self._piece_kernel(direction, height, width, size)

            def transform(images):
                count = tf.shape(images)[0]
                padded = tf.pad(images, [[0, size - count], [0, 0], [0, 0], [0, 0]])
                return kernel(tf.ensure_shape(padded, [size, height, width, self.channels]))[:count]

            signature = [tf.TensorSpec([None, height, width, self.channels], tf.uint8)]
            return tf.function(transform, input_signature=signature, autograph=False)

        return self._memoised_function(("piece", direction, height, width, size), make)

    def _transform(self, images, direction: Direction, padding: Padding):
        if padding not in PADDING_MODES:
            raise ValueError(f"padding must be one of {PADDING_MODES}, not {padding!r}.")
        as_numpy = not tf.is_tensor(images)
        if as_numpy:
            images = _numpy_as_tensor(images)
        dtype = images.dtype
        single = images.shape.rank == 3
        if images.shape.rank not in (3, 4):
            raise ImageShapeError(
                f"Images must be (N, H, W, C) or (H, W, C); got shape {tuple(images.shape)}. "
                "Add or remove a batch axis, or expand grayscale images to (H, W, 1)."
            )
        if single:
            images = tf.expand_dims(images, 0)  # not images[tf.newaxis]: eagerly 6 µs against 44
        channels = images.shape[-1]
        if channels is not None and channels != self.channels:
            raise ImageShapeError(
                f"Images have {channels} channels but the key is for {self.channels}; convert "
                f"the images (e.g. to RGB) or use a key made with --channels {channels}."
            )
        images = self._pad_or_check(images, padding)
        images = _to_uint8(images)
        if tf.executing_eagerly() and self.jit_compile:
            result = self._eager_transform(images, direction)
        else:
            result = self.transform_uint8(images, direction)
        # Drop the input (for NumPy input, our tensor copy of it) before the result is copied out:
        # measured to save about 1,100 page faults per call on 10,000 CIFAR images.
        del images
        if dtype != tf.uint8:
            result = tf.cast(result, dtype)
        if single:
            result = tf.squeeze(result, 0)
        return result.numpy() if as_numpy else result

    def _pad_or_check(self, images: tf.Tensor, padding: Padding) -> tf.Tensor:
        height, width = images.shape[1], images.shape[2]
        if height is not None and width is not None:
            if padding == "error":
                self.check_spatial_shape(height, width)
                return images
            new_height, new_width = self.padded_shape(height, width)
            self.check_spatial_shape(new_height, new_width)
            return _replicate_pad(images, new_height - height, new_width - width)
        # Unknown sides (graph mode): check or pad at run time.
        shape = tf.shape(images)
        m = self.block_size
        if padding == "replicate":
            return _replicate_pad(images, (-shape[1]) % m, (-shape[2]) % m)
        checks = [tf.debugging.Assert(
            tf.logical_and(shape[1] % m == 0, shape[2] % m == 0),
            [f"keras-lie: image sides must be multiples of the block size {m}; "
             "crop or resize, or use padding='replicate' (--padding replicate). Got height, width:", shape[1], shape[2]],
        )]
        if self.fixed_image_size is not None:
            fixed_height, fixed_width = self.fixed_image_size
            checks.append(tf.debugging.Assert(
                tf.logical_and(shape[1] == fixed_height, shape[2] == fixed_width),
                [f"keras-lie: this {self.name} key is for {fixed_height}x{fixed_width} images only; resize or crop "
                 "them, or make a key for their size. Got height, width:", shape[1], shape[2]],
            ))
        with tf.control_dependencies(checks):
            return tf.identity(images)


def _split_batch(count: int, sizes: tuple[int, ...], overhead: int) -> list[tuple[int, int]]:
    """`count` images as pieces (compiled size, images used), sizes from `sizes` (descending, ending at 1).

    Whole pieces of the largest size first; what remains goes into one piece padded
    up to the next size when the padding costs no more than `overhead` images (the
    cost of a call), else into the largest size that fits, and so on.
    """
    pieces = [(sizes[0], sizes[0])] * (count // sizes[0])
    count %= sizes[0]
    while count:
        above = min(size for size in sizes if size >= count)
        if above - count <= overhead:
            pieces.append((above, count))
            break
        below = max(size for size in sizes if size <= count)
        pieces.append((below, below))
        count -= below
    return pieces


@functools.cache
def _only_cpus() -> bool:
    """Whether TensorFlow sees only CPUs.

    The lane kernel was measured faster than the fused gather on CPUs; on GPUs and
    TPUs the fused gather is kept (benchmarks/gpu_check.py times both).
    """
    return all(device.device_type == "CPU" for device in tf.config.list_logical_devices())


def _numpy_as_tensor(images) -> tf.Tensor:
    array = np.asarray(images)
    if array.dtype == object or array.dtype.kind not in "uif":
        raise ImageValueError(
            f"Images must be numeric arrays, not dtype {array.dtype}; decode them to uint8 first."
        )
    return tf.convert_to_tensor(array)


def _replicate_pad(images: tf.Tensor, pad_height, pad_width) -> tf.Tensor:
    """Pad bottom and right by repeating the last row and column."""
    images = tf.concat([images, tf.repeat(images[:, -1:], pad_height, axis=1)], axis=1)
    return tf.concat([images, tf.repeat(images[:, :, -1:], pad_width, axis=2)], axis=2)


def _to_uint8(images: tf.Tensor) -> tf.Tensor:
    """Cast to uint8 after checking that values are integers in [0, 255]."""
    if images.dtype == tf.uint8:
        return images
    if not (images.dtype.is_floating or images.dtype.is_integer):
        raise ImageValueError(
            f"Images of dtype {images.dtype.name} are not supported; use uint8, or floats "
            "holding integers in [0, 255]."
        )
    wide = tf.cast(images, tf.float64) if images.dtype.is_floating else tf.cast(images, tf.int64)
    in_range = tf.logical_and(wide >= 0, wide <= 255)
    valid = tf.logical_and(in_range, tf.equal(wide, tf.round(wide))) if images.dtype.is_floating else in_range
    if tf.executing_eagerly():
        valid = valid.numpy()
        if not valid.all():
            values = wide.numpy()
            bad = values[~valid]
            raise ImageValueError(
                f"{bad.size} image values are not integers in [0, 255] (e.g. {bad.flat[0]!r}; "
                f"range {values.min()!r}..{values.max()!r}). Encrypt the 8-bit image itself: "
                "undo any scaling (x * 255) or normalisation before encrypting."
            )
        return tf.cast(images, tf.uint8)
    check = tf.debugging.Assert(
        tf.reduce_all(valid),
        ["keras-lie: image values must be integers in [0, 255]; undo scaling or normalisation "
         "before encrypting."],
    )
    with tf.control_dependencies([check]):
        return tf.cast(images, tf.uint8)
