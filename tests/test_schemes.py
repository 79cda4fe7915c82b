import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_lie
from keras_lie.errors import ImageShapeError, ImageValueError, KeyMismatchError
from keras_lie.keys import BlockShuffleKey, CatMapKey, LearnableKey, PlainKey, generate_key
from keras_lie.schemes import (
    BlockShuffleScheme,
    CatMapScheme,
    LearnableScheme,
    PlainScheme,
    get_scheme,
)
from keras_lie.schemes.base import _split_batch

from conftest import kernels_used, random_images
from numpy_oracle import numpy_block_shuffle, numpy_learnable_encrypt

SCHEMES = ["learnable", "block_shuffle", "cat_map", "plain"]


# -- conformance --------------------------------------------------------------------------


def test_golden_conformance_with_the_authors_code(reference_files):
    key_path, golden_path = reference_files
    key = LearnableKey.from_reference_pickle(key_path)
    golden = np.load(golden_path)
    plain, encrypted = golden["plain"], golden["encrypted"]
    for jit in (True, False):
        scheme = LearnableScheme(key, jit_compile=jit)
        assert np.array_equal(scheme.encrypt(plain), encrypted)
        assert np.array_equal(scheme.decrypt(encrypted), plain)
    graph = tf.function(LearnableScheme(key).encrypt)
    assert np.array_equal(graph(tf.constant(plain)).numpy(), encrypted)


# -- round trips and oracles -----------------------------------------------------------------

shapes = st.tuples(
    st.sampled_from([2, 4, 8]),  # block size
    st.sampled_from([1, 3]),  # channels
    st.integers(1, 3),  # batch
    st.integers(1, 4),  # block rows
    st.integers(1, 4),  # block columns
    st.integers(0, 2**32 - 1),  # key seed
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes, st.sampled_from(["learnable", "block_shuffle"]))
def test_block_schemes_round_trip_and_match_numpy_oracle(params, scheme_name):
    m, c, n, rows, cols, seed = params
    key = generate_key(scheme_name, block_size=m, channels=c, seed=seed)
    scheme = get_scheme(key, jit_compile=False)
    x = random_images(np.random.default_rng(seed), (n, rows * m, cols * m, c))
    y = scheme.encrypt(x)
    assert y.dtype == np.uint8 and y.shape == x.shape
    assert np.array_equal(scheme.decrypt(y), x)
    oracle = numpy_learnable_encrypt(x, key) if scheme_name == "learnable" else numpy_block_shuffle(x, key)
    assert np.array_equal(y, oracle)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(2, 40), st.integers(2, 40), st.sampled_from([1, 3]), st.integers(0, 2**32 - 1)
)
def test_cat_map_round_trip_and_is_a_permutation(height, width, channels, seed):
    key = CatMapKey.generate(channels=channels, seed=seed)
    scheme = CatMapScheme(key, jit_compile=False)
    # Distinct values reveal the permutation: every input position appears exactly once.
    x = np.arange(height * width * channels).reshape(1, height, width, channels)
    y = scheme.encrypt(x % 256)
    assert np.array_equal(scheme.decrypt(y), x % 256)
    index = scheme.plan(height, width, "encrypt").index.numpy()
    assert np.array_equal(np.sort(index), np.arange(height * width * channels))


def test_cat_map_destroys_locality():
    key = CatMapKey.generate(channels=1, seed=0)
    index = CatMapScheme(key).plan(32, 32, "encrypt").index.numpy().reshape(32, 32)
    source_rows, source_cols = index // 32, index % 32
    # Horizontal neighbours in the output come from far-apart input pixels.
    distance = np.abs(source_rows[:, 1:] - source_rows[:, :-1]) + np.abs(
        source_cols[:, 1:] - source_cols[:, :-1]
    )
    assert np.median(distance) > 8
    # A smooth image loses its neighbour correlation.
    yy, xx = np.mgrid[0:32, 0:32]
    smooth = ((yy + xx) * 4).astype(np.uint8)[None, :, :, None]
    encrypted = CatMapScheme(key).encrypt(smooth)[0, :, :, 0].astype(float)
    correlation = np.corrcoef(encrypted[:, 1:].ravel(), encrypted[:, :-1].ravel())[0, 1]
    assert abs(correlation) < 0.2


@pytest.mark.parametrize("scheme_name", SCHEMES)
def test_single_images_float_inputs_and_tensors(scheme_name, rng):
    key = generate_key(scheme_name, channels=3, seed=3)
    scheme = get_scheme(key)
    x = random_images(rng, (2, 16, 16, 3))
    y = scheme.encrypt(x)
    assert np.array_equal(scheme.encrypt(x[0]), y[0])
    for dtype in (np.float32, np.float64, np.int32):
        yf = scheme.encrypt(x.astype(dtype))
        assert yf.dtype == dtype and np.array_equal(yf, y)
    yt = scheme.encrypt(tf.constant(x))
    assert tf.is_tensor(yt) and np.array_equal(yt.numpy(), y)
    assert np.array_equal(keras_lie.decrypt(y, key), x)


@pytest.mark.parametrize("scheme_name", SCHEMES)
def test_eager_function_xla_and_dynamic_shapes_agree(scheme_name, rng):
    key = generate_key(scheme_name, channels=3, seed=4)
    x = random_images(rng, (3, 16, 24, 3))
    expected = get_scheme(key, jit_compile=False).encrypt(x)
    scheme = get_scheme(key)
    assert np.array_equal(scheme.encrypt(x), expected)
    assert np.array_equal(tf.function(scheme.encrypt)(tf.constant(x)).numpy(), expected)
    xla = tf.function(scheme.encrypt, jit_compile=True)
    assert np.array_equal(xla(tf.constant(x)).numpy(), expected)
    dynamic = tf.function(scheme.encrypt, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    assert np.array_equal(dynamic(tf.constant(x)).numpy(), expected)
    dynamic_decrypt = tf.function(scheme.decrypt, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    assert np.array_equal(dynamic_decrypt(tf.constant(expected)).numpy(), x)


@pytest.mark.parametrize("scheme_name", SCHEMES)
def test_in_tf_data_map(scheme_name, rng):
    key = generate_key(scheme_name, channels=3, seed=5)
    scheme = get_scheme(key)
    x = random_images(rng, (6, 8, 8, 3))
    dataset = tf.data.Dataset.from_tensor_slices(x).map(scheme.encrypt).batch(6)
    assert np.array_equal(next(iter(dataset)).numpy(), scheme.encrypt(x))


def test_same_key_for_every_block():
    key = LearnableKey.generate(block_size=4, channels=3, seed=9)
    block = random_images(np.random.default_rng(0), (1, 4, 4, 3))
    tiled = np.tile(block, (1, 3, 5, 1))
    encrypted = LearnableScheme(key).encrypt(tiled)
    assert np.array_equal(encrypted, np.tile(encrypted[:, :4, :4], (1, 3, 5, 1)))


def test_encryption_changes_images_and_keys_matter(rng):
    x = random_images(rng, (4, 32, 32, 3))
    first = LearnableScheme(LearnableKey.generate(seed=1)).encrypt(x)
    second = LearnableScheme(LearnableKey.generate(seed=2)).encrypt(x)
    assert (first != x).mean() > 0.9 and (first != second).mean() > 0.9
    assert np.array_equal(PlainScheme(PlainKey()).encrypt(x), x)


def test_replicate_padding(rng):
    key = LearnableKey.generate(block_size=4, channels=3, seed=1)
    scheme = LearnableScheme(key)
    x = random_images(rng, (2, 30, 29, 3))
    y = scheme.encrypt(x, padding="replicate")
    assert y.shape == (2, 32, 32, 3)
    decrypted = scheme.decrypt(y)
    assert np.array_equal(decrypted[:, :30, :29], x)
    assert np.array_equal(decrypted[:, 30:, :29], np.repeat(x[:, -1:], 2, axis=1))
    dynamic = tf.function(
        lambda images: scheme.encrypt(images, padding="replicate"),
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)],
    )
    assert np.array_equal(dynamic(tf.constant(x)).numpy(), y)


# -- bad input ---------------------------------------------------------------------------------


@pytest.fixture
def learnable():
    return LearnableScheme(LearnableKey.generate(block_size=4, channels=3, seed=1))


def test_wrong_rank(learnable):
    with pytest.raises(ImageShapeError, match=r"\(N, H, W, C\)"):
        learnable.encrypt(np.zeros((32, 32), np.uint8))
    with pytest.raises(ImageShapeError):
        learnable.encrypt(np.zeros((1, 1, 32, 32, 3), np.uint8))


def test_wrong_channels(learnable):
    with pytest.raises(ImageShapeError, match="1 channels but the key is for 3"):
        learnable.encrypt(np.zeros((1, 32, 32, 1), np.uint8))


def test_sides_not_multiple_of_block(learnable):
    with pytest.raises(ImageShapeError, match="multiples of the block size 4.*replicate"):
        learnable.encrypt(np.zeros((1, 30, 32, 3), np.uint8))
    dynamic = tf.function(learnable.encrypt, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiples of the block size 4"):
        dynamic(tf.zeros((1, 30, 32, 3), tf.uint8))


@pytest.mark.parametrize("value", [-1.0, 256.0, 0.5, np.nan])
def test_values_outside_range_or_not_integers(learnable, value):
    x = np.zeros((1, 8, 8, 3), np.float32)
    x[0, 0, 0, 0] = value
    with pytest.raises(ImageValueError, match=r"integers in \[0, 255\]"):
        learnable.encrypt(x)


def test_values_checked_in_graph_mode(learnable):
    graph = tf.function(learnable.encrypt)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"integers in \[0, 255\]"):
        graph(tf.fill((1, 8, 8, 3), 0.5))


def test_unsupported_dtypes(learnable):
    with pytest.raises(ImageValueError, match="numeric"):
        learnable.encrypt(np.array([["a"]]))
    with pytest.raises(ImageValueError, match="not supported"):
        learnable.encrypt(tf.zeros((1, 8, 8, 3), tf.bool))


def test_key_of_another_scheme():
    with pytest.raises(KeyMismatchError, match="needs a 'learnable' key"):
        LearnableScheme(BlockShuffleKey.generate())
    with pytest.raises(KeyMismatchError):
        BlockShuffleScheme(CatMapKey.generate())


def test_cat_map_too_small():
    with pytest.raises(ImageShapeError, match="at least 2x2"):
        CatMapScheme(CatMapKey.generate(channels=3)).encrypt(np.zeros((1, 1, 5, 3), np.uint8))


def test_bad_padding_mode(learnable):
    with pytest.raises(ValueError, match="padding"):
        learnable.encrypt(np.zeros((1, 8, 8, 3), np.uint8), padding="zeros")


def test_scheme_inside_a_saved_model(tmp_path, rng):
    key = LearnableKey.generate(block_size=4, channels=3, seed=21)
    scheme = LearnableScheme(key)
    module = tf.Module()
    module.encrypt = tf.function(
        scheme.encrypt, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)]
    )
    tf.saved_model.save(module, str(tmp_path / "encryptor"))
    restored = tf.saved_model.load(str(tmp_path / "encryptor"))
    x = random_images(rng, (2, 16, 8, 3))
    assert np.array_equal(restored.encrypt(tf.constant(x)).numpy(), scheme.encrypt(x))


def test_repeated_calls_and_new_batch_sizes_do_not_retrace():
    from keras_lie.keys import generate_key
    from keras_lie.schemes import get_scheme

    key = generate_key("learnable")
    scheme = get_scheme(key)
    assert get_scheme(key) is scheme  # memoised per key material
    keras_lie.encrypt(np.zeros((5, 32, 32, 3), np.uint8), key)  # the first call compiles its piece sizes
    before = scheme.trace_count
    for batch in (1, 7, 32, 7, 1, 100):
        keras_lie.encrypt(np.zeros((batch, 32, 32, 3), np.uint8), key)
    assert scheme.trace_count == before  # no trace for any other batch size
    keras_lie.decrypt(np.zeros((3, 32, 32, 3), np.uint8), key)
    after_decrypt = scheme.trace_count
    assert after_decrypt > before  # a new direction compiles its own, once
    keras_lie.decrypt(np.zeros((300, 32, 32, 3), np.uint8), key)
    assert scheme.trace_count == after_decrypt


@pytest.mark.parametrize("scheme_name", ["learnable", "ele"])
def test_new_batch_sizes_reuse_the_compiled_piece_sizes_exactly(scheme_name, rng):
    """XLA compiles per concrete shape: after the first call, every batch size runs on the same few shapes."""
    from keras_lie.keys import generate_key
    from keras_lie.schemes import get_scheme

    from numpy_oracle import numpy_learnable_encrypt

    key = generate_key(scheme_name, block_size=4, image_size=(32, 32) if scheme_name == "ele" else None)
    scheme = get_scheme(key)
    compiled = scheme._piece_sizes(32, 32)
    assert compiled[0] * 32 * 32 * 3 <= 32 << 20 and compiled[-1] == 1
    seen = []
    real = scheme._piece_kernel

    def recording(direction, height, width, size):
        seen.append(size)
        return real(direction, height, width, size)

    scheme._piece_kernel = recording
    images = random_images(rng, (9000, 32, 32, 3))
    for batch in (1, 7, 333, 1024, 1025, 2100, 9000, 5):
        encrypted = scheme.encrypt(images[:batch])
        assert np.array_equal(scheme.decrypt(encrypted), images[:batch])
        if scheme_name == "learnable":
            assert np.array_equal(encrypted, numpy_learnable_encrypt(images[:batch], key))
        for index in range(0, batch, 97):  # a piece of one image agrees with every other piece size
            assert np.array_equal(encrypted[index], scheme.encrypt(images[index]))
    assert set(seen) <= set(compiled)  # never a shape outside the compiled set


# -- the lane kernel (eager calls on a CPU) ----------------------------------------------------


def test_lane_packing_and_the_plan_on_words():
    from keras_lie.schemes._gather import LANES, apply_plan, lane_plan, pack_lanes, packing_xor, unpack_lanes

    rng = np.random.default_rng(0)
    scheme = LearnableScheme(LearnableKey.generate(block_size=4, channels=3, seed=1))
    units = tf.constant(rng.integers(0, 256, (13, 4 * 8 * 3), dtype=np.uint8))  # 13: the last word half empty
    byte_mask = rng.integers(0, 256, units.shape[1], dtype=np.uint8)
    words = pack_lanes(units, tf.constant((byte_mask.astype(np.uint64) * np.uint64(0x0101010101010101)).view(np.int64)))
    assert words.dtype == tf.int64 and words.shape == (2, units.shape[1])
    unsigned = words.numpy().view(np.uint64)
    lane_bytes = (unsigned[:, None, :] >> (8 * np.arange(LANES, dtype=np.uint64))[:, None]) & 255
    padded = np.concatenate([units.numpy(), np.zeros((3, units.shape[1]), np.uint8)])
    assert np.array_equal(lane_bytes.reshape(16, -1), padded ^ byte_mask)  # byte j of word g is unit 8g + j, XORed
    no_xor = tf.zeros([units.shape[1]], tf.int64)
    assert np.array_equal(unpack_lanes(pack_lanes(units, no_xor), units).numpy(), units.numpy())
    for direction in ("encrypt", "decrypt"):
        plan = scheme.plan(4, 8, direction)
        moves = lane_plan(plan)
        assert moves.lo_xor is None and moves.hi_xor is None  # the reversals are done while packing
        moved = unpack_lanes(apply_plan(pack_lanes(units, tf.constant(packing_xor(plan))), moves), units)
        assert np.array_equal(moved.numpy(), apply_plan(units, plan).numpy())


def test_packing_xor_refuses_a_plan_that_takes_a_nibble_twice():
    from keras_lie.schemes._gather import NibblePlan, packing_xor

    index, shift = tf.constant([0, 0], tf.int32), tf.constant([0, 0], tf.uint8)  # both low nibbles from byte 0
    plan = NibblePlan(index, shift, tf.constant([15, 0], tf.uint8), index, tf.constant([4, 4], tf.uint8),
                      tf.constant([0, 0], tf.uint8))
    with pytest.raises(ValueError, match="more than once"):
        packing_xor(plan)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([2, 4, 8]), st.sampled_from([1, 3]), st.integers(1, 12), st.integers(1, 3), st.integers(1, 3),
    st.integers(0, 2**32 - 1),
)
def test_eager_calls_take_the_lane_kernel_from_eight_block_rows(m, c, n, rows, cols, seed):
    key = LearnableKey.generate(block_size=m, channels=c, seed=seed)
    scheme = LearnableScheme(key)
    x = random_images(np.random.default_rng(seed), (n, rows * m, cols * m, c))
    y = scheme.encrypt(x)
    assert np.array_equal(y, numpy_learnable_encrypt(x, key))
    assert np.array_equal(scheme.decrypt(y), x)
    # Each piece of the batch takes the lane kernel when it holds eight block rows (pieces are padded up).
    pieces = _split_batch(n, scheme._piece_sizes(rows * m, cols * m), 1 << 30)
    assert kernels_used(scheme, n, rows * m, cols * m) == {"lanes" if size * rows >= 8 else "fused" for size, _ in pieces}


def test_the_lane_kernel_is_one_graph_function_traced_once_for_any_batch():
    key = LearnableKey.generate(block_size=4, channels=3, seed=3)
    scheme = LearnableScheme(key)
    for batch in (1, 7, 100, 7):  # 8 block rows per 32x32 image: every batch takes the lane kernel
        x = random_images(np.random.default_rng(batch), (batch, 32, 32, 3))
        assert np.array_equal(scheme.encrypt(x), numpy_learnable_encrypt(x, key))
    lanes = scheme._lane_transform("encrypt", 4, 32)
    # The outer graph is kept as one concrete function: one dispatch, and it cannot retrace.
    assert isinstance(lanes, tf.types.experimental.ConcreteFunction)
    assert lanes.structured_input_signature[0][0].shape.as_list() == [None, None, 32, 3]
    assert scheme.trace_count == 1  # the plan on words, its one XLA function
    # A concrete function does not check shapes: another width must be dispatched to a function of its own.
    x = random_images(np.random.default_rng(0), (4, 32, 16, 3))
    assert np.array_equal(scheme.encrypt(x), numpy_learnable_encrypt(x, key))
    assert scheme._lane_transform("encrypt", 4, 16) is not lanes and scheme.trace_count == 2


def test_the_lane_kernel_is_for_cpus_only(monkeypatch):
    from keras_lie.schemes import base

    key = LearnableKey.generate(block_size=4, channels=3, seed=2)
    x = random_images(np.random.default_rng(2), (4, 32, 32, 3))
    monkeypatch.setattr(base, "_only_cpus", lambda: False)
    accelerated = LearnableScheme(key)
    assert np.array_equal(accelerated.encrypt(x), numpy_learnable_encrypt(x, key))
    assert kernels_used(accelerated, 4, 32, 32) == {"fused"}
