"""The names kept for one release: they warn, and give what their replacements give.

`attack` and `attack_position_keyed` took the encrypted images first; their replacements
`ciphertext_only_attack` and `ciphertext_only_attack_position_keyed` take the plain images first,
as every other attack does. The modules `position_keyed` and `jigsaw` moved into the threat-model
modules and re-export their old names.
"""

import importlib
import sys

import numpy as np
import pytest

import keras_lie
from keras_lie.keys import generate_key
from keras_lie.security import (
    attack,
    attack_position_keyed,
    ciphertext_only_attack,
    ciphertext_only_attack_position_keyed,
)

from synthetic_images import structured_images


def same_outcome(old: dict, new: dict) -> None:
    assert old.keys() == new.keys()
    for field in old:
        if field != "seconds":  # the attack's own run time
            np.testing.assert_equal(old[field], new[field])


def test_attack_warns_and_equals_ciphertext_only_attack_with_the_plain_images_first():
    x = structured_images(6, size=16)
    encrypted = np.asarray(keras_lie.encrypt(x, generate_key("cat_map")))
    new = ciphertext_only_attack(x, encrypted, "cat_map", None, attack_images=4)
    with pytest.warns(DeprecationWarning, match=r"ciphertext_only_attack\(plain, encrypted"):
        old = attack(encrypted, x, "cat_map", None, attack_images=4)
    same_outcome(old, new)
    assert new["attack_images"] == 4
    # The old order given to the new name attacks the plain images as if they were the ciphertexts: not the same.
    swapped = ciphertext_only_attack(encrypted, x, "cat_map", None, attack_images=4)
    assert not np.array_equal(swapped["reconstruction"], new["reconstruction"])


def test_attack_position_keyed_warns_and_equals_its_replacement():
    x = structured_images(8, size=16)
    encrypted = np.asarray(keras_lie.encrypt(x, generate_key("etc", block_size=4, image_size=(16, 16))))
    new = ciphertext_only_attack_position_keyed(x, encrypted, "etc", 4)
    with pytest.warns(DeprecationWarning, match=r"ciphertext_only_attack_position_keyed\(plain, encrypted"):
        old = attack_position_keyed(encrypted, x, "etc", 4)
    same_outcome(old, new)
    # The old order given to the new name attacks the plain images as if they were the ciphertexts: not the same.
    swapped = ciphertext_only_attack_position_keyed(encrypted, x, "etc", 4)
    assert not np.array_equal(swapped["reconstruction"], new["reconstruction"])


MOVED = {
    "position_keyed": {
        "DecryptionMap": "result", "UNITS": "geometry", "attack_position_keyed": "ciphertext_only",
        "known_plaintext_curve": "known_plaintext", "reconstruct_thumbnails": "ciphertext_only",
        "recover_map_chosen_plaintext": "chosen_plaintext", "recover_map_known_plaintext": "known_plaintext",
        "score_reconstruction": "ciphertext_only", "solve_etc_jigsaw": "ciphertext_only",
    },
    "jigsaw": {"JigsawSolution": "ciphertext_only.jigsaw", "orient": "geometry", "solve_block_jigsaw": "ciphertext_only.jigsaw"},
}


@pytest.mark.parametrize("module", sorted(MOVED))
def test_moved_modules_warn_on_import_and_re_export_the_same_objects(module, monkeypatch):
    name = f"keras_lie.security.{module}"
    monkeypatch.delitem(sys.modules, name, raising=False)  # imported afresh: the warning comes at import
    with pytest.warns(DeprecationWarning, match=f"{name} is deprecated"):
        old = importlib.import_module(name)
    for attribute, home in MOVED[module].items():
        assert getattr(old, attribute) is getattr(importlib.import_module(f"keras_lie.security.{home}"), attribute)
    assert sorted(old.__all__) == sorted(MOVED[module])
