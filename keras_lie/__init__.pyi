# keras-lie's public names: the one list. `keras_lie/__init__.py` reads this file to
# import each name lazily, on first use; type checkers and IDEs read it as the stub.
from keras_lie import (
    data as data,
    errors as errors,
    experiments as experiments,
    files as files,
    keys as keys,
    layers as layers,
    models as models,
    registry as registry,
    schemes as schemes,
    security as security,
    shards as shards,
    training as training,
)
from keras_lie.data import load_source as load_source, make_pipeline as make_pipeline
from keras_lie.encryption_spec import EncryptionSpec as EncryptionSpec
from keras_lie.errors import (
    ImageFileError as ImageFileError,
    ImageShapeError as ImageShapeError,
    ImageValueError as ImageValueError,
    KerasLieError as KerasLieError,
    KeyFileError as KeyFileError,
    KeyMismatchError as KeyMismatchError,
)
from keras_lie.keys import (
    BlockShuffleKey as BlockShuffleKey,
    CatMapKey as CatMapKey,
    ELEKey as ELEKey,
    EtCKey as EtCKey,
    Key as Key,
    LearnableKey as LearnableKey,
    PlainKey as PlainKey,
    as_key as as_key,
    generate_key as generate_key,
    load_key as load_key,
)
from keras_lie.layers import BlockStem as BlockStem, Decrypt as Decrypt, Encrypt as Encrypt
from keras_lie.models import build_classifier as build_classifier
from keras_lie.schemes import (
    BlockShuffleScheme as BlockShuffleScheme,
    CatMapScheme as CatMapScheme,
    ELEScheme as ELEScheme,
    EtCScheme as EtCScheme,
    LearnableScheme as LearnableScheme,
    PlainScheme as PlainScheme,
    Scheme as Scheme,
    decrypt as decrypt,
    encrypt as encrypt,
    get_scheme as get_scheme,
)
from keras_lie.version import __version__ as __version__
