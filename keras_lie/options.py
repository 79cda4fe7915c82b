"""The option vocabularies the library validates and the command line offers.

Defined once, here, without importing TensorFlow, so that the command line can
build its parser quickly; the modules that own each option re-export it
(`keras_lie.schemes.PADDING_MODES`, `keras_lie.training.SCHEDULES`,
`keras_lie.layers.block_stem.INPUT_MODES`).
"""

PADDING_MODES = ("error", "replicate")  # for image sides that are not multiples of the block size
SCHEDULES = ("cosine", "step", "constant")  # learning-rate schedules of `train`
OPTIMIZERS = ("sgd", "adamw")  # optimizers of `train`
DISTRIBUTE_MODES = ("none", "mirrored", "multi-worker", "tpu")  # `--distribute`: tf.distribute strategies
INPUT_MODES = ("bytes", "nibbles")  # what a BlockStem's first convolution sees
BACKBONES = ("pyramidnet", "convmixer", "vit", "vit-shared")  # networks of the experiments
