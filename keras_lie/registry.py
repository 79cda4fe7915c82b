"""One record per encryption scheme: every fact about a scheme that the rest of keras-lie needs.

The command line's choices, the presets and tables, the data pipeline's
augmentation, the model builders and the security report read these records
instead of keeping their own lists, so adding a scheme is: its key class
(`keras_lie.keys`), its plan (`keras_lie.schemes`), its record here, its tests.

Importing this module does not import TensorFlow (the command line's help and
choices come from it); `SchemeRecord.scheme_class` imports the scheme's module
when asked.
"""

from __future__ import annotations

import dataclasses
import importlib

from keras_lie.keys import BlockShuffleKey, CatMapKey, ELEKey, EtCKey, Key, LearnableKey, PlainKey, canonical_scheme_name

# How a scheme moves pixels, which decides the network it needs and the augmentations it allows.
FAMILIES = (
    "none",            # plain images
    "whole-image",     # the cat map: pixels move across the whole image
    "block-wise",      # one key for every M x M block: a block stem undoes it exactly
    "position-keyed",  # a different key for each block position (ELE, EtC)
)
# Augmentations that commute with a scheme (see keras_lie.data.augment).
BLOCK_AUGMENTATIONS = ("block_translate", "block_flip")


@dataclasses.dataclass(frozen=True)
class SchemeRecord:
    """What keras-lie knows of one scheme.

    Attributes:
        name: the canonical name ("learnable"), as in key files and manifests.
        label: how tables and figures name it ("proposed").
        key_class: its `Key` subclass.
        scheme_path: "module:Class" of its `Scheme` (imported on demand).
        family: one of `FAMILIES`.
        augmentations: augmentations of encrypted images that stay valid (they
            commute with the encryption).
        attacks: the threat models the security report runs against it.
        in_paper: a row of Tanaka's Table I.
        published_cifar10: accuracy published for it on CIFAR-10 without an
            adaptation network (Madono et al., AAAI-20 workshop, Table 3), if any.
    """

    name: str
    label: str
    key_class: type[Key]
    scheme_path: str
    family: str
    augmentations: tuple[str, ...] = ()
    attacks: tuple[str, ...] = ()
    in_paper: bool = False
    published_cifar10: float | None = None

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, not {self.family!r}.")

    @property
    def is_block_wise(self) -> bool:
        """One key for every M x M block: a block stem undoes it exactly, block-aligned augmentation commutes."""
        return self.family == "block-wise"

    @property
    def is_position_keyed(self) -> bool:
        """A key for each block position of one image size (ELE, EtC)."""
        return self.family == "position-keyed"

    @property
    def takes_block_size(self) -> bool:
        """Whether its keys have a block size M (block-wise and position-keyed schemes)."""
        return self.is_block_wise or self.is_position_keyed

    @property
    def scheme_class(self) -> type:
        """Its `keras_lie.schemes.Scheme` subclass (imports TensorFlow)."""
        module, name = self.scheme_path.split(":")
        return getattr(importlib.import_module(module), name)


_RECORDS = (
    SchemeRecord("plain", "plain", PlainKey, "keras_lie.schemes.plain:PlainScheme", "none",
                 augmentations=BLOCK_AUGMENTATIONS, in_paper=True, published_cifar10=0.9670),
    SchemeRecord("cat_map", "combined cat map", CatMapKey, "keras_lie.schemes.cat_map:CatMapScheme",
                 "whole-image", attacks=("ciphertext-only", "known-plaintext", "chosen-plaintext"), in_paper=True),
    SchemeRecord("block_shuffle", "naive block-wise pixel shuffle", BlockShuffleKey,
                 "keras_lie.schemes.block_shuffle:BlockShuffleScheme", "block-wise",
                 augmentations=BLOCK_AUGMENTATIONS,
                 attacks=("ciphertext-only", "known-plaintext", "chosen-plaintext"), in_paper=True),
    SchemeRecord("learnable", "proposed", LearnableKey, "keras_lie.schemes.learnable:LearnableScheme",
                 "block-wise", augmentations=BLOCK_AUGMENTATIONS,
                 attacks=("ciphertext-only", "known-plaintext", "chosen-plaintext", "key-leakage"),
                 in_paper=True, published_cifar10=0.9494),
    SchemeRecord("ele", "extended learnable (ELE)", ELEKey, "keras_lie.schemes.ele:ELEScheme", "position-keyed",
                 attacks=("ciphertext-only", "known-plaintext", "chosen-plaintext"), published_cifar10=0.6710),
    SchemeRecord("etc", "encryption-then-compression (EtC)", EtCKey, "keras_lie.schemes.etc:EtCScheme",
                 "position-keyed", attacks=("ciphertext-only", "known-plaintext", "chosen-plaintext"),
                 published_cifar10=0.8594),
)
SCHEME_RECORDS: dict[str, SchemeRecord] = {record.name: record for record in _RECORDS}


def scheme_record(name: str | Key) -> SchemeRecord:
    """The record of a scheme, by name (aliases accepted, e.g. "proposed") or by one of its keys.

    Raises:
        KeyMismatchError: no such scheme (the message lists the known ones).
    """
    return SCHEME_RECORDS[name.scheme if isinstance(name, Key) else canonical_scheme_name(name)]


def scheme_names(*families: str) -> tuple[str, ...]:
    """The schemes' names, in the registry's order; only those of `families` when given."""
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"Unknown families {sorted(unknown)}; they are {FAMILIES}.")
    return tuple(record.name for record in _RECORDS if not families or record.family in families)
