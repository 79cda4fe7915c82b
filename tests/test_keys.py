import json
import os
import pickle
import stat

import numpy as np
import pytest

from keras_lie import keys
from keras_lie.errors import KeyFileError, KeyMismatchError
from keras_lie.keys import (
    BlockShuffleKey,
    CatMapKey,
    LearnableKey,
    PlainKey,
    generate_key,
    load_key,
)

ALL_SCHEMES = ["learnable", "block_shuffle", "cat_map", "plain"]


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_save_load_round_trip_keeps_key_and_fingerprint(tmp_path, scheme):
    key = generate_key(scheme, channels=3)
    path = key.save(tmp_path / "key.json")
    loaded = load_key(path)
    assert loaded == key
    assert loaded.fingerprint == key.fingerprint
    assert type(loaded) is type(key)
    assert loaded.path == path


def test_key_file_is_owner_only_and_never_silently_overwritten(tmp_path):
    path = tmp_path / "key.json"
    LearnableKey.generate().save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        LearnableKey.generate().save(path)
    assert path.read_bytes() == before
    other = LearnableKey.generate()
    other.save(path, overwrite=True)
    assert load_key(path) == other
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]  # no temporary left behind


def test_generation_uses_csprng_by_default_and_seed_reproducibly():
    assert LearnableKey.generate() != LearnableKey.generate()
    assert LearnableKey.generate(seed=7) == LearnableKey.generate(seed=7)
    assert LearnableKey.generate(seed=7) != LearnableKey.generate(seed=8)
    assert CatMapKey.generate(seed=7) == CatMapKey.generate(seed=7)
    state = np.random.get_state()
    LearnableKey.generate(seed=3)
    LearnableKey.generate()
    assert np.array_equal(np.random.get_state()[1], state[1])  # global state untouched


def test_reversal_mask_is_strictly_greater_than_d():
    d = 4 * 4 * 3
    permutation = np.arange(2 * d)
    key = LearnableKey(4, 3, permutation)
    assert not key.reversal_mask[d]  # k[i] == d is not reversed
    assert key.reversal_mask[d + 1 :].all() and not key.reversal_mask[: d + 1].any()


def test_fingerprint_depends_on_material_sizes_and_scheme():
    key = LearnableKey.generate(seed=1)
    swapped = key.permutation.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    assert LearnableKey(4, 3, swapped).fingerprint != key.fingerprint
    assert len(key.fingerprint) == 64
    assert len(key.short_fingerprint) == 19
    assert key.short_fingerprint.replace(":", "") == key.fingerprint[:16]


def test_repr_and_describe_never_show_key_material():
    key = LearnableKey.generate(seed=1)
    text = repr(key) + json.dumps(key.describe())
    assert str(list(key.permutation[:6]))[1:-1] not in text
    assert "permutation" not in text
    cat = CatMapKey.generate(seed=1)
    assert cat.secret.hex() not in repr(cat) + json.dumps(cat.describe())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(permutation=d["permutation"][:-1]), "entries"),
        (lambda d: d["permutation"].__setitem__(0, d["permutation"][1]), "not a permutation"),
        (lambda d: d["permutation"].__setitem__(0, 999), "not a permutation"),
        (lambda d: d.update(block_size=8), "entries"),
        (lambda d: d.update(block_size="4"), "integer"),
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.update(scheme="rot13"), "unknown scheme"),
        (lambda d: d.pop("fingerprint"), "lacks"),
        (lambda d: d.update(format="something"), "not a keras-lie key"),
        (lambda d: d.update(reversal_mask=[0] * 96), "reversal_mask"),
        (lambda d: d.update(fingerprint="sha256:" + "0" * 64), "fingerprint"),
    ],
)
def test_edited_key_files_never_load(tmp_path, edit, message):
    path = tmp_path / "key.json"
    LearnableKey.generate(seed=1).save(path)
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match=message):
        load_key(path)


def test_swapped_permutation_entries_change_the_fingerprint_and_fail(tmp_path):
    path = tmp_path / "key.json"
    LearnableKey.generate(seed=1).save(path)
    document = json.loads(path.read_text())
    p = document["permutation"]
    p[0], p[1] = p[1], p[0]
    document["reversal_mask"] = [int(v > 48) for v in p]
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="fingerprint"):
        load_key(path)


def test_truncated_missing_and_wrong_type_files(tmp_path):
    path = tmp_path / "key.json"
    LearnableKey.generate(seed=1).save(path)
    path.write_text(path.read_text()[:100])
    with pytest.raises(KeyFileError, match="not valid JSON"):
        load_key(path)
    with pytest.raises(KeyFileError, match="does not exist"):
        load_key(tmp_path / "missing.json")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(KeyFileError):
        load_key(tmp_path / "image.png")
    with pytest.raises(KeyFileError, match="folder"):
        load_key(tmp_path)


def test_loading_a_key_of_another_scheme_through_a_subclass(tmp_path):
    path = BlockShuffleKey.generate().save(tmp_path / "key.json")
    with pytest.raises(KeyMismatchError, match="block_shuffle"):
        LearnableKey.load(path)
    assert isinstance(BlockShuffleKey.load(path), BlockShuffleKey)


def test_scheme_names_and_bad_sizes():
    assert keys.canonical_scheme_name("Block-Shuffle") == "block_shuffle"
    assert keys.canonical_scheme_name("proposed") == "learnable"
    with pytest.raises(KeyMismatchError, match="Unknown scheme"):
        generate_key("rot13")
    with pytest.raises(KeyMismatchError, match="positive integer"):
        LearnableKey.generate(block_size=0)
    assert generate_key("block_shuffle").permutation.size == 48
    assert generate_key("cat_map").block_size == 1
    assert isinstance(generate_key("plain"), PlainKey)


def test_reference_pickle_import(reference_files):
    key_path, _ = reference_files
    key = LearnableKey.from_reference_pickle(key_path)
    assert (key.block_size, key.channels) == (4, 3)
    assert sorted(key.permutation) == list(range(96))


@pytest.mark.parametrize("module", ["numpy.core.multiarray", "numpy._core.multiarray"])
def test_reference_pickle_of_numpy_1_and_2(tmp_path, module):
    key = LearnableKey.generate(seed=5)
    data = pickle.dumps([[4, 4, 3], key.permutation.astype(np.uint32)], protocol=3)
    # Rewrite the global to the other NumPy major's module name.
    for name in (b"numpy.core.multiarray", b"numpy._core.multiarray"):
        data = data.replace(name, module.encode())
    path = tmp_path / "key.pkl"
    path.write_bytes(data)
    assert LearnableKey.from_reference_pickle(path) == key


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_reference_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([[4, 4, 3], _Exploit(marker)], protocol=3))
    with pytest.raises(KeyFileError, match="posix.system|os.system|nt.system"):
        LearnableKey.from_reference_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload, message",
    [
        ([[4, 4, 3], np.arange(95, dtype=np.uint32)], "entries"),
        ([[4, 2, 3], np.arange(96, dtype=np.uint32)], "square"),
        ([[4, 4, 3], np.zeros(96, dtype=np.uint32)], "not a permutation"),
        ([[4, 4, 3], np.arange(96, dtype=np.float32)], "not integers"),
        ({"key": 1}, r"\[\[M, M, C\], key\]"),
    ],
)
def test_reference_pickle_with_wrong_content(tmp_path, payload, message):
    path = tmp_path / "key.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=3))
    with pytest.raises(KeyFileError, match=message):
        LearnableKey.from_reference_pickle(path)


def test_reference_pickle_garbage(tmp_path):
    path = tmp_path / "key.pkl"
    path.write_bytes(b"not a pickle")
    with pytest.raises(KeyFileError):
        LearnableKey.from_reference_pickle(path)


# -- position-keyed keys (ELE, EtC) -----------------------------------------------------------


@pytest.mark.parametrize("scheme", ["ele", "etc"])
def test_position_keyed_keys_round_trip_and_detect_edits(tmp_path, scheme):
    import json

    key = generate_key(scheme, block_size=4, image_size=(16, 24))
    assert key.image_size == (16, 24) and key.grid == (4, 6) and key.blocks == 24
    assert sorted(key.block_permutation.tolist()) == list(range(24))
    path = key.save(tmp_path / "key.json")
    loaded = load_key(path)
    assert loaded == key and loaded.fingerprint == key.fingerprint and loaded.describe()["image_size"] == [16, 24]
    document = json.loads(path.read_text())
    permutation = document["block_permutation"]
    permutation[0], permutation[1] = permutation[1], permutation[0]
    (tmp_path / "edited.json").write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="fingerprint does not match"):
        load_key(tmp_path / "edited.json")
    document["image_size"] = [16, 20]
    (tmp_path / "resized.json").write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="block_permutation|permutation"):
        load_key(tmp_path / "resized.json")


def test_ele_keys_are_fresh_permutations_from_the_csprng_and_seeds_reproduce():
    from keras_lie.keys import ELEKey

    a, b = (ELEKey.generate(block_size=2, channels=3, image_size=(8, 8)) for _ in range(2))
    assert a != b and a.origin == "random"
    assert (np.sort(a.nibble_keys, axis=1) == np.arange(24)).all()
    assert len({row.tobytes() for row in a.nibble_keys}) == 16  # a different key for every block position
    seeded = [ELEKey.generate(block_size=2, seed=7, image_size=(8, 8)) for _ in range(2)]
    assert seeded[0] == seeded[1] and seeded[0].origin == "seed"
    assert seeded[0].fingerprint != seeded[1].fingerprint  # salted


def test_etc_generation_draws_the_eight_symmetries_negation_and_channel_permutations():
    from keras_lie.keys import EtCKey

    key = EtCKey.generate(block_size=2, channels=3, image_size=(64, 64))  # 1024 blocks
    assert set(key.rotations.tolist()) == {0, 1, 2, 3} and not key.flip_vertical.any()
    assert 400 < key.flip_horizontal.sum() < 624 and 400 < key.negative.sum() < 624
    assert (np.sort(key.channel_sources, axis=1) == np.arange(3)).all()
    assert len({tuple(row) for row in key.channel_sources.tolist()}) == 6


def test_position_keyed_key_errors_say_how_to_fix_them():
    from keras_lie.keys import ELEKey, EtCKey

    with pytest.raises(KeyMismatchError, match=r"image_size=\(height, width\).*--image-size HxW"):
        generate_key("ele", block_size=4)
    with pytest.raises(KeyMismatchError, match="multiples of 4"):
        ELEKey.generate(block_size=4, image_size=(30, 32))
    with pytest.raises(KeyMismatchError, match="more than a key file holds"):
        ELEKey.generate(block_size=4, image_size=(1024, 1024))
    rng = np.random.default_rng(0)
    with pytest.raises(KeyFileError, match="one way at most"):
        EtCKey(2, 3, (2, 4), rotations=[0, 1], negative=[0, 1], flip_vertical=[1, 0], flip_horizontal=[1, 0],
               channel_sources=[[0, 1, 2], [2, 1, 0]], block_permutation=[1, 0])
    with pytest.raises(KeyFileError, match="Row 1 .* not a permutation"):
        EtCKey(2, 3, (2, 4), rotations=[0, 1], negative=[0, 1], flip_vertical=[0, 0], flip_horizontal=[1, 0],
               channel_sources=[[0, 1, 2], [2, 2, 0]], block_permutation=[1, 0])
    with pytest.raises(KeyFileError, match="rotations values must lie in 0..3"):
        EtCKey(2, 3, (2, 4), rotations=[0, 4], negative=[0, 1], flip_vertical=[0, 0], flip_horizontal=[1, 0],
               channel_sources=[[0, 1, 2], [2, 1, 0]], block_permutation=[1, 0])
    with pytest.raises(KeyFileError, match="needs 2 nibble keys"):
        ELEKey(1, 3, (1, 2), [rng.permutation(6)], [1, 0])


def test_reference_npz_import_refuses_bad_files(tmp_path):
    from keras_lie.keys import ELEKey, EtCKey

    rng = np.random.default_rng(0)
    keys = np.stack([rng.permutation(96) for _ in range(4)])
    good = {"block_size": np.int64(4), "image_size": np.array([8, 8]), "grid": np.array([2, 2]),
            "nibble_key": keys, "nibble_reverse": keys > 48, "block_perm": np.array([2, 0, 3, 1])}
    np.savez(tmp_path / "good.npz", **good)
    key = ELEKey.from_reference_npz(tmp_path / "good.npz")
    assert key.origin == "reference" and key.is_experiment_key and key.channels == 3
    np.savez(tmp_path / "edited.npz", **{**good, "nibble_reverse": keys >= 48})
    with pytest.raises(KeyFileError, match="nibble_reverse"):
        ELEKey.from_reference_npz(tmp_path / "edited.npz")
    np.savez(tmp_path / "grid.npz", **{**good, "grid": np.array([4, 1])})
    with pytest.raises(KeyFileError, match="grid"):
        ELEKey.from_reference_npz(tmp_path / "grid.npz")
    np.savez(tmp_path / "objects.npz", **{**good, "block_perm": np.array([2, 0, 3, 1], dtype=object)})
    with pytest.raises(KeyFileError, match="block_perm is not a plain NumPy array"):
        ELEKey.from_reference_npz(tmp_path / "objects.npz")
    with pytest.raises(KeyFileError, match="lacks the array"):
        EtCKey.from_reference_npz(tmp_path / "good.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(KeyFileError, match="not a NumPy .npz"):
        ELEKey.from_reference_npz(tmp_path / "text.npz")
    with pytest.raises(ValueError, match="colour_shuffle"):
        EtCKey.from_reference_npz(tmp_path / "good.npz", colour_shuffle="swap")


@pytest.mark.parametrize("scheme", [*ALL_SCHEMES, "ele", "etc"])
def test_a_key_kind_declares_its_material_once(scheme):
    """`material_fields` is all a kind declares: the file's material, attributes and constructor keywords agree."""
    import inspect

    key = generate_key(scheme, image_size=(16, 24)) if scheme in ("ele", "etc") else generate_key(scheme)
    cls = type(key)
    assert list(key.material()) == list(cls.material_fields)
    assert set(cls.material_fields) <= set(inspect.signature(cls.__init__).parameters)
    rebuilt = cls._from_material(key.block_size, key.channels, json.loads(json.dumps(key.material())), key.created)
    assert rebuilt == key and rebuilt.material() == key.material()
    assert all(type(value) in (list, str, int) for value in key.material().values())  # JSON as it is written
