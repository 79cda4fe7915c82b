"""The checks every keras-lie layer passes, as Keras' own layer tests do (keras/src/testing).

`check_layer(make_layer, inputs, tmp_path)` builds the layer with `make_layer()`
and checks, in inference mode:

- symbolic vs eager: the output spec of `layer(keras.Input(...))` has the eager
  result's dtype and shape (batch axis free);
- config round trip: `from_config(get_config())` rebuilds a layer that, given the
  same weights, computes the same output; the config is JSON-serialisable;
- `tf.data`: mapping the layer over a dataset gives the eager result;
- saving: a one-layer model saved as `.keras` loads back (in this process) and
  computes the same output.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import tensorflow as tf


def check_layer(make_layer, inputs: np.ndarray, tmp_path) -> None:
    layer = make_layer()
    eager = np.asarray(layer(inputs))
    eager_dtype = keras.backend.standardize_dtype(layer(inputs).dtype)

    symbolic_input = keras.Input(inputs.shape[1:], dtype=str(inputs.dtype))
    symbolic = make_layer()(symbolic_input)
    assert keras.backend.standardize_dtype(symbolic.dtype) == eager_dtype, (symbolic.dtype, eager_dtype)
    assert tuple(symbolic.shape[1:]) == eager.shape[1:], (symbolic.shape, eager.shape)
    assert tuple(layer.compute_output_shape((None, *inputs.shape[1:]))) == (None, *eager.shape[1:])

    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(config)
    clone(inputs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(inputs)), eager, rtol=1e-6, atol=1e-6)

    mapped = tf.data.Dataset.from_tensor_slices(inputs).batch(len(inputs)).map(layer)
    np.testing.assert_allclose(next(iter(mapped)).numpy(), eager, rtol=1e-6, atol=1e-6)

    model = keras.Sequential([keras.Input(inputs.shape[1:], dtype=str(inputs.dtype)), layer])
    path = tmp_path / f"{type(layer).__name__}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(restored(inputs)), eager, rtol=1e-6, atol=1e-6)
