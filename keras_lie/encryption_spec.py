"""`EncryptionSpec`: what a model, a trainer or a data check needs to know of an encryption, without its key.

A key is secret; its scheme, block size, channels, image size and fingerprint
are not. Models, the trainer and the data checks work from these facts, made
from a key by whoever holds it, or from an encrypted dataset's manifest by a
trainer who does not, so no key material reaches them.

The block size belongs here: a block-wise scheme's network sees exactly one
encryption block per step of its stem, so the stem takes the spec's block size;
schemes without one block size (plain images, the cat map, and the
position-keyed schemes, which are not adapted by a block stem) get the paper's
network, whose stem uses `PAPER_BLOCK_SIZE`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from keras_lie.blocks import PAPER_BLOCK_SIZE
from keras_lie.keys import Key
from keras_lie.registry import SchemeRecord, scheme_record

if TYPE_CHECKING:
    from keras_lie.io.dataset_manifest import DatasetManifest


@dataclasses.dataclass(frozen=True)
class EncryptionSpec:
    """The public facts of an encryption: scheme, block size, channels, image size, key fingerprint.

    Attributes:
        scheme: the scheme's canonical name (see `keras_lie.registry`).
        block_size: the block side M of schemes that have one (block-wise and
            position-keyed), else None.
        channels: image channels, if known.
        fingerprint: the key's fingerprint (SHA-256 hex), or None (plain data,
            or a scheme named without a key).
        image_size: `(H, W)` for keys made for one image size (ELE, EtC) or a
            dataset of one size, else None.

    Example:

    >>> spec = EncryptionSpec.of(keras_lie.load_key("key.json"))    # the data holder
    >>> spec = EncryptionSpec.of(load_source("encrypted/", encrypted=True).manifest)  # a trainer
    >>> spec.stem_block_size
    4
    """

    scheme: str
    block_size: int | None = None
    channels: int | None = None
    fingerprint: str | None = None
    image_size: tuple[int, int] | None = None

    def __post_init__(self):
        record = scheme_record(self.scheme)  # refuses unknown schemes, with the known ones listed
        object.__setattr__(self, "scheme", record.name)
        if self.block_size is not None and not record.takes_block_size:
            object.__setattr__(self, "block_size", None)

    @classmethod
    def from_key(cls, key: Key) -> EncryptionSpec:
        """The spec of `key` (a `Key`; load a key file with `keras_lie.load_key`)."""
        if not isinstance(key, Key):
            raise TypeError(f"from_key takes a Key, not {type(key).__name__}; load a key file with "
                            "keras_lie.load_key(path) (or use EncryptionSpec.of, which also takes manifests).")
        size = getattr(key, "image_size", None)
        return cls(key.scheme, key.block_size, key.channels, key.fingerprint,
                   tuple(int(v) for v in size) if size is not None else None)

    @classmethod
    def from_manifest(cls, manifest: DatasetManifest) -> EncryptionSpec:
        """The spec of an encrypted dataset, from its manifest (its key's fingerprint, never the key)."""
        return cls(manifest.scheme, manifest.block_size, manifest.channels, manifest.key_fingerprint,
                   tuple(manifest.image_size) if manifest.image_size else None)

    @classmethod
    def for_scheme(cls, scheme: str, *, block_size: int | None = None, channels: int | None = None) -> EncryptionSpec:
        """A spec for a scheme named without a key (no fingerprint); the block size defaults to its keys'."""
        record = scheme_record(scheme)
        if block_size is None and record.takes_block_size:
            block_size = record.key_class.default_block_size
        return cls(record.name, block_size, channels)

    @classmethod
    def of(cls, value: EncryptionSpec | Key | DatasetManifest | str | None) -> EncryptionSpec:
        """A spec from a spec, a `Key`, a `DatasetManifest`, a scheme name, or None (plain images)."""
        from keras_lie.io.dataset_manifest import DatasetManifest

        if isinstance(value, EncryptionSpec):
            return value
        if value is None:
            return cls.for_scheme("plain")
        if isinstance(value, Key):
            return cls.from_key(value)
        if isinstance(value, DatasetManifest):
            return cls.from_manifest(value)
        if isinstance(value, str):
            return cls.for_scheme(value)
        raise TypeError(f"An encryption is described by a Key, a DatasetManifest, an EncryptionSpec or a scheme "
                        f"name, not {type(value).__name__}.")

    @property
    def record(self) -> SchemeRecord:
        """The scheme's registry record."""
        return scheme_record(self.scheme)

    @property
    def stem_block_size(self) -> int:
        """The block size of the stem for these images: the key's for block-wise schemes, else the paper's 4."""
        return self.block_size if self.record.is_block_wise else PAPER_BLOCK_SIZE

    @property
    def augmentation_block_size(self) -> int:
        """The block size that block-aligned augmentation keeps: the key's where it has one, else the paper's."""
        return self.block_size if self.block_size is not None else PAPER_BLOCK_SIZE
