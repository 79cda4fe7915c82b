"""Secret keys for the encryption schemes.

A key is generated from the operating system's CSPRNG (`secrets`) unless an
explicit seed is given for a reproducible experiment; numpy's global random
state is never used. Keys are saved as versioned JSON documents, written
atomically with owner-only permissions, and carry a SHA-256 fingerprint over a
canonical encoding of the key material so that an edited or truncated file
never loads and a layer can refer to a key without storing it.

Example:

>>> key = LearnableKey.generate(block_size=4, channels=3)
>>> key.save("key.json")
>>> load_key("key.json").fingerprint == key.fingerprint
True

The modules: `base` (the `Key` class and its fingerprint), `registry` (key
classes by scheme name; a key class registers itself when it is defined),
`file_format` (the key file), `validation` (size limits and material checks),
one module per kind of key (`plain`, `cat_map`, `permutation` for the block-wise
schemes, `position_keyed` for ELE and EtC), and `reference` (importers of the
authors' reference key files).
"""

from keras_lie.keys.base import SALT_BYTES, Key, short_fingerprint
from keras_lie.keys.cat_map import CatMapKey
from keras_lie.keys.file_format import KEY_FORMAT, KEY_FORMAT_VERSION, KEY_ORIGINS, MAX_KEY_FILE_BYTES, as_key, load_key
from keras_lie.keys.key_classes import canonical_scheme_name, generate_key, key_class, schemes_of_kind
from keras_lie.keys.permutation import BlockShuffleKey, LearnableKey, _PermutationKey
from keras_lie.keys.plain import PlainKey
from keras_lie.keys.position_keyed import ELEKey, EtCKey, _PositionKeyedKey
from keras_lie.keys.reference import MAX_REFERENCE_NPZ_BYTES, MAX_REFERENCE_PICKLE_BYTES
from keras_lie.keys.validation import MAX_BLOCK_SIZE, MAX_CHANNELS, MAX_IMAGE_SIDE, MAX_KEY_ENTRIES

# Schemes that encrypt every M x M block with the same key (block stems, block augmentation).
BLOCK_WISE_SCHEMES = schemes_of_kind(_PermutationKey)
# Schemes with their own key for every block position of one image size, and a block location shuffle.
POSITION_KEYED_SCHEMES = schemes_of_kind(_PositionKeyedKey)

__all__ = [
    "BLOCK_WISE_SCHEMES",
    "KEY_FORMAT",
    "KEY_FORMAT_VERSION",
    "KEY_ORIGINS",
    "MAX_BLOCK_SIZE",
    "MAX_CHANNELS",
    "MAX_IMAGE_SIDE",
    "MAX_KEY_ENTRIES",
    "MAX_KEY_FILE_BYTES",
    "MAX_REFERENCE_NPZ_BYTES",
    "MAX_REFERENCE_PICKLE_BYTES",
    "POSITION_KEYED_SCHEMES",
    "SALT_BYTES",
    "BlockShuffleKey",
    "CatMapKey",
    "ELEKey",
    "EtCKey",
    "Key",
    "LearnableKey",
    "PlainKey",
    "canonical_scheme_name",
    "as_key",
    "generate_key",
    "key_class",
    "load_key",
    "short_fingerprint",
]
