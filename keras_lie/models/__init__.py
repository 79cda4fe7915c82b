"""Models for encrypted images: stems, backbones, classifiers, key conversion, export."""

from keras_lie.models.channel_padding import ChannelPadding
from keras_lie.models.classifier import (
    build_classifier,
    check_data,
    check_key,
    encryption_info,
    find_block_stem,
    predict_encrypted,
    predict_plain,
    walk_layers,
)
from keras_lie.models.conversion import block_input_map, convert_key, from_plain, token_input_map
from keras_lie.models.convmixer import convmixer
from keras_lie.models.export import (
    export,
    export_encryptor,
    export_encryptor_tflite,
    export_tflite,
    read_export_metadata,
)
from keras_lie.models.initialization import initialize_stem_from_data
from keras_lie.models.predict import boundary_correlation, predict_classes
from keras_lie.models.pyramidnet import pyramidnet
from keras_lie.models.replicate_padding import ReplicatePadding2D
from keras_lie.models.shake_drop import ShakeDrop
from keras_lie.models.stochastic_depth import StochasticDepth
from keras_lie.models.tanaka import tanaka_network
from keras_lie.models.vit import vit

__all__ = [
    "ChannelPadding",
    "ReplicatePadding2D",
    "ShakeDrop",
    "StochasticDepth",
    "block_input_map",
    "boundary_correlation",
    "build_classifier",
    "check_data",
    "check_key",
    "convert_key",
    "convmixer",
    "encryption_info",
    "export",
    "export_encryptor",
    "export_encryptor_tflite",
    "export_tflite",
    "find_block_stem",
    "initialize_stem_from_data",
    "predict_classes",
    "from_plain",
    "predict_encrypted",
    "predict_plain",
    "pyramidnet",
    "read_export_metadata",
    "tanaka_network",
    "token_input_map",
    "vit",
    "walk_layers",
]
