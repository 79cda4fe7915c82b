"""ELE and EtC: bit-exact with the reference vectors, with a NumPy transcription of SCHEMES.md on
other keys, sizes and block sizes, exact decryption, and the one-image-size rule."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_lie
from keras_lie.errors import ImageShapeError, KeyMismatchError
from keras_lie.keys import ELEKey, EtCKey, generate_key
from keras_lie.schemes import ELEScheme, EtCScheme, get_scheme

from conftest import kernels_used, random_images, shared_dir
from numpy_oracle import numpy_ele, numpy_etc


def reference(name: str):
    path = shared_dir() / "reference" / name
    if not path.is_file():
        pytest.skip(f"conformance data {path} not found; put the shared folder beside the project or set KERAS_LIE_SHARED")
    return path


def etc_arrays(key: EtCKey) -> dict:
    """A keras-lie EtC key as the reference key file's arrays (for the NumPy transcription)."""
    return {"rotation_ccw": key.rotations, "negative": key.negative, "flip_vertical": key.flip_vertical,
            "flip_horizontal": key.flip_horizontal, "channel_perm": key.channel_sources,
            "block_perm": key.block_permutation}


# -- conformance with the reference vectors -------------------------------------------------


def test_ele_golden_vectors_bit_exact():
    golden = np.load(reference("ele_golden_m4.npz"))
    key = ELEKey.from_reference_npz(reference("ele_key_m4.npz"))
    assert (key.block_size, key.channels, key.image_size, key.origin) == (4, 3, (32, 32), "reference")
    assert int(key.reversal_masks.sum(axis=1)[0]) == 47  # strictly greater: key value 48 is not reversed
    np.testing.assert_array_equal(keras_lie.encrypt(golden["plain"], key), golden["encrypted"])
    np.testing.assert_array_equal(keras_lie.decrypt(golden["encrypted"], key), golden["decrypted"])
    np.testing.assert_array_equal(golden["decrypted"], golden["plain"])


def test_etc_golden_vectors_bit_exact_in_both_colour_variants():
    golden = np.load(reference("etc_golden_m4.npz"))
    key = EtCKey.from_reference_npz(reference("etc_key_m4.npz"))
    np.testing.assert_array_equal(keras_lie.encrypt(golden["plain"], key), golden["encrypted"])
    np.testing.assert_array_equal(keras_lie.decrypt(golden["encrypted"], key), golden["plain"])
    paper = EtCKey.from_reference_npz(reference("etc_key_m4.npz"), colour_shuffle="reference_code")
    assert not paper.invertible and paper.fingerprint != key.fingerprint
    np.testing.assert_array_equal(keras_lie.encrypt(golden["plain"], paper), golden["encrypted_paper_code"])
    with pytest.raises(KeyMismatchError, match="cannot be decrypted"):
        keras_lie.decrypt(golden["encrypted_paper_code"], paper)


def test_the_numpy_transcription_reproduces_the_golden_vectors():
    """The oracle of the property tests below is itself checked against the reference."""
    ele, ele_key = np.load(reference("ele_golden_m4.npz")), dict(np.load(reference("ele_key_m4.npz")))
    np.testing.assert_array_equal(numpy_ele(ele["plain"], ele_key["nibble_key"], ele_key["block_perm"], 4),
                                  ele["encrypted"])
    etc, etc_key = np.load(reference("etc_golden_m4.npz")), dict(np.load(reference("etc_key_m4.npz")))
    np.testing.assert_array_equal(numpy_etc(etc["plain"], etc_key, 4), etc["encrypted"])
    np.testing.assert_array_equal(numpy_etc(etc["plain"], etc_key, 4, "channel_src_paper_code"),
                                  etc["encrypted_paper_code"])


# -- other keys, sizes and block sizes ------------------------------------------------------

geometry = st.tuples(
    st.sampled_from([1, 2, 4, 8]),  # block size
    st.sampled_from([1, 3]),  # channels
    st.integers(1, 3),  # block rows
    st.integers(1, 4),  # block columns
    st.integers(0, 2**32 - 1),  # seed
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geometry)
def test_ele_matches_the_transcription_and_decrypts_exactly(params):
    m, c, rows, cols, seed = params
    key = ELEKey.generate(block_size=m, channels=c, seed=seed, image_size=(rows * m, cols * m))
    x = random_images(np.random.default_rng(seed), (2, rows * m, cols * m, c))
    scheme = get_scheme(key, jit_compile=False)
    y = scheme.encrypt(x)
    np.testing.assert_array_equal(y, numpy_ele(x, key.nibble_keys, key.block_permutation, m))
    np.testing.assert_array_equal(scheme.decrypt(y), x)
    np.testing.assert_array_equal(numpy_ele(y, key.nibble_keys, key.block_permutation, m, decrypt=True), x)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geometry)
def test_etc_matches_the_transcription_and_decrypts_exactly(params):
    m, c, rows, cols, seed = params
    rng = np.random.default_rng(seed)
    blocks = rows * cols
    mirror = rng.integers(0, 3, blocks)  # none, vertical, horizontal: every step of the spec exercised
    key = EtCKey(m, c, (rows * m, cols * m), rotations=rng.integers(0, 4, blocks), negative=rng.integers(0, 2, blocks),
                 flip_vertical=mirror == 1, flip_horizontal=mirror == 2,
                 channel_sources=np.argsort(rng.random((blocks, c)), axis=1), block_permutation=rng.permutation(blocks))
    x = random_images(rng, (2, rows * m, cols * m, c))
    scheme = get_scheme(key, jit_compile=False)
    y = scheme.encrypt(x)
    np.testing.assert_array_equal(y, numpy_etc(x, etc_arrays(key), m))
    np.testing.assert_array_equal(scheme.decrypt(y), x)


def test_eager_ele_batches_of_eight_images_take_the_lane_kernel(rng):
    key = ELEKey.generate(block_size=4, channels=3, seed=6, image_size=(8, 12))
    # 9 images: a piece of 16 (one image of every word padded); 1 image: one unit, the fused gather.
    for batch, kernel in ((9, "lanes"), (1, "fused")):
        scheme = ELEScheme(key)
        x = random_images(rng, (batch, 8, 12, 3))
        y = scheme.encrypt(x)
        np.testing.assert_array_equal(y, numpy_ele(x, key.nibble_keys, key.block_permutation, 4))
        np.testing.assert_array_equal(scheme.decrypt(y), x)
        assert kernels_used(scheme, batch, 8, 12) == {kernel}


@pytest.mark.parametrize("scheme_name", ["ele", "etc"])
def test_eager_xla_graph_dynamic_shapes_and_tf_data_agree(scheme_name, rng):
    key = generate_key(scheme_name, block_size=8, seed=3, image_size=(16, 24))
    x = random_images(rng, (3, 16, 24, 3))
    expected = get_scheme(key, jit_compile=False).encrypt(x)
    np.testing.assert_array_equal(keras_lie.encrypt(x, key), expected)
    scheme = get_scheme(key)
    dynamic = tf.function(scheme.encrypt, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    np.testing.assert_array_equal(dynamic(tf.constant(x)).numpy(), expected)
    mapped = tf.data.Dataset.from_tensor_slices(x).map(scheme.encrypt)
    np.testing.assert_array_equal(np.stack(list(mapped.as_numpy_iterator())), expected)
    with pytest.raises(tf.errors.InvalidArgumentError, match="16x24 images only"):
        dynamic(tf.zeros([1, 24, 16, 3], tf.uint8))


@pytest.mark.parametrize("scheme_name", ["ele", "etc"])
def test_other_image_sizes_are_refused_with_the_fix(scheme_name):
    key = generate_key(scheme_name, block_size=4, image_size=(32, 32))
    with pytest.raises(ImageShapeError, match=rf"32x32 images.*--scheme {scheme_name} --image-size 64x64"):
        keras_lie.encrypt(np.zeros((1, 64, 64, 3), np.uint8), key)
    with pytest.raises(ImageShapeError, match="32x32"):  # replicate padding must land on the key's size
        keras_lie.encrypt(np.zeros((1, 26, 26, 3), np.uint8), key, padding="replicate")
    np.testing.assert_array_equal(  # ... and may
        keras_lie.encrypt(np.zeros((1, 29, 31, 3), np.uint8), key, padding="replicate").shape, (1, 32, 32, 3))


def test_the_classes_and_the_scheme_table():
    assert keras_lie.schemes.SCHEMES["ele"] is ELEScheme and keras_lie.schemes.SCHEMES["etc"] is EtCScheme
    assert isinstance(get_scheme(generate_key("ele", image_size=(8, 8))), ELEScheme)
