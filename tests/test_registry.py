"""The scheme registry: one record per scheme, agreeing with the key and scheme classes it names."""

import pytest

from keras_lie import keys
from keras_lie.errors import KeyMismatchError
from keras_lie.registry import FAMILIES, SCHEME_RECORDS, SchemeRecord, scheme_names, scheme_record


def test_every_key_class_has_one_record_and_the_classes_agree():
    from keras_lie.schemes import SCHEMES

    assert set(SCHEME_RECORDS) == set(SCHEMES) == {"plain", "cat_map", "block_shuffle", "learnable", "ele", "etc"}
    for name, record in SCHEME_RECORDS.items():
        assert record.key_class.scheme == name and record.scheme_class.name == name
        assert SCHEMES[name] is record.scheme_class


def test_families_match_what_the_keys_are():
    assert scheme_names("block-wise") == keys.BLOCK_WISE_SCHEMES
    assert scheme_names("position-keyed") == keys.POSITION_KEYED_SCHEMES
    assert [name for name in scheme_names() if scheme_record(name).takes_block_size] == \
        [*keys.BLOCK_WISE_SCHEMES, *keys.POSITION_KEYED_SCHEMES]
    # Augmentation moves whole blocks: valid only where every block has the same key.
    assert [name for name, record in SCHEME_RECORDS.items() if record.augmentations] == ["plain", "block_shuffle",
                                                                                       "learnable"]


def test_lookup_by_alias_or_key_and_clear_errors():
    assert scheme_record("proposed").name == "learnable"
    assert scheme_record(keys.generate_key("ele", block_size=4, image_size=(8, 8), seed=1)).name == "ele"
    with pytest.raises(KeyMismatchError, match="learnable"):
        scheme_record("rot13")
    with pytest.raises(ValueError, match="families"):
        scheme_names("diagonal")
    with pytest.raises(ValueError, match="family"):
        SchemeRecord("x", "x", keys.PlainKey, "keras_lie.schemes.plain:PlainScheme", "diagonal")
    assert set(FAMILIES) >= {record.family for record in SCHEME_RECORDS.values()}


def test_the_tables_and_presets_read_the_registry():
    from keras_lie.data.pipeline import AUGMENTABLE_SCHEMES
    from keras_lie.experiments.presets import ALL_SCHEMES, PUBLISHED_CIFAR10, SCHEME_LABELS

    assert ALL_SCHEMES == ("plain", "cat_map", "block_shuffle", "learnable")  # Table I's rows, in its order
    assert SCHEME_LABELS["learnable"] == "proposed" and PUBLISHED_CIFAR10 == {
        "plain": 0.9670, "learnable": 0.9494, "ele": 0.6710, "etc": 0.8594}
    assert AUGMENTABLE_SCHEMES == ("plain", "block_shuffle", "learnable")


def test_the_registry_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, keras_lie.registry as r; r.scheme_names(); print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def _readme_table(first_header: str) -> list[list[str]]:
    from pathlib import Path

    lines = (Path(__file__).resolve().parents[1] / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return [rows[0], *rows[2:]]  # the header, then the rows (without the --- line)


def test_the_readme_tables_say_what_the_registry_says():
    """The README's scheme table names every scheme once; its augmentation table matches each record."""
    import re

    scheme_rows = _readme_table("scheme | key")[1:]
    assert sorted(re.match(r"`(\w+)`", row[0]).group(1) for row in scheme_rows) == sorted(SCHEME_RECORDS)
    header, *rows = _readme_table("augmentation")
    columns = [[keys.canonical_scheme_name(name.replace(" ", "_")) for name in cell.split(", ")]
               for cell in header[1:]]
    assert sorted(name for names in columns for name in names) == sorted(SCHEME_RECORDS)
    for row in rows:
        augmentation = re.search(r"`(\w+)`", row[0])
        if augmentation is None:
            continue  # ordinary pixel augmentations: no record allows them
        for names, cell in zip(columns, row[1:], strict=True):
            for name in names:
                allowed = augmentation.group(1) in SCHEME_RECORDS[name].augmentations
                assert cell == ("valid" if allowed else "not valid"), (augmentation.group(1), name, cell)
