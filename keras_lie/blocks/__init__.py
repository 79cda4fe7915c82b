"""Block and nibble maths: the one home for what schemes, layers, models and security share.

- `keras_lie.blocks.grid`: cutting images into M x M blocks and back (`PAPER_BLOCK_SIZE`, the default M);
- `keras_lie.blocks.nibble_split`: the nibble split and the nibble-key conventions of the authors' code;
- `keras_lie.blocks.statistics`: what many encrypted blocks reveal about their upper nibbles.

Every name is also importable from `keras_lie.blocks`.
"""

from keras_lie.blocks.grid import (
    PAPER_BLOCK_SIZE,
    block_grid,
    block_means,
    block_vectors,
    depth_to_space,
    from_block_grid,
    offset_coordinates,
    space_to_depth,
)
from keras_lie.blocks.nibble_split import (
    nibble_vectors,
    nibbles,
    nibbles_per_block,
    reversal_mask,
    reversal_parity,
    split_nibbles,
)
from keras_lie.blocks.statistics import correlation, estimate_upper_nibbles, estimate_upper_nibbles_per_position

__all__ = [
    "PAPER_BLOCK_SIZE",
    "block_grid",
    "block_means",
    "block_vectors",
    "correlation",
    "depth_to_space",
    "estimate_upper_nibbles",
    "estimate_upper_nibbles_per_position",
    "from_block_grid",
    "nibble_vectors",
    "nibbles",
    "nibbles_per_block",
    "offset_coordinates",
    "reversal_mask",
    "reversal_parity",
    "space_to_depth",
    "split_nibbles",
]
