import numpy as np
import pytest

from keras_lie.models import ShakeDrop, StochasticDepth, pyramidnet, tanaka_network


def trainable_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize(
    "arguments, reported",
    [
        ({"depth": 110, "alpha": 48}, 1.7e6),
        ({"depth": 110, "alpha": 270}, 28.3e6),
        ({"depth": 272, "alpha": 200, "bottleneck": True}, 26.0e6),
    ],
)
def test_parameter_counts_match_the_paper(arguments, reported):
    count = trainable_parameters(pyramidnet(**arguments))
    assert abs(count / reported - 1) < 0.02, count


def test_widths_grow_additively_and_shortcuts_pad():
    model = pyramidnet(depth=20, alpha=12)  # 3 units per stage, +12/9 per unit
    widths = [layer.filters for layer in model.layers if layer.name.endswith("conv2")]
    # floor of the running double sum: 16 + 4/3 + 4/3 + 4/3 = 19.999999999999996 -> 19
    assert widths == [17, 18, 19, 21, 22, 23, 25, 26, 27]
    rounded = pyramidnet(depth=20, alpha=12, width_rounding="round")
    assert [layer.filters for layer in rounded.layers if layer.name.endswith("conv2")] == [17, 19, 20, 21, 23, 24, 25, 27, 28]
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize("regularization", ["shakedrop", "stochastic_depth", "separated_stochastic_depth"])
def test_regularizations_with_linear_decay(regularization):
    model = pyramidnet(depth=20, alpha=12, regularization=regularization, seed=1)
    layers = [layer for layer in model.layers if isinstance(layer, (ShakeDrop, StochasticDepth))]
    assert len(layers) == 9
    probabilities = [layer.survival_probability for layer in layers]
    np.testing.assert_allclose(probabilities, 1 - np.arange(1, 10) / 9 * 0.5)
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    a = np.asarray(model(x, training=False))
    np.testing.assert_allclose(a, np.asarray(model(x, training=False)))
    assert np.isfinite(np.asarray(model(x, training=True))).all()


def test_shakedrop_forward_and_backward_coefficients():
    import tensorflow as tf

    layer = ShakeDrop(0.5, seed=3)
    x = tf.ones((64, 1, 1, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    gradient = tape.gradient(y, x).numpy().ravel()
    forward = y.numpy().ravel()
    assert ((forward >= -1) & (forward <= 1)).all() and (forward < 0).any()  # alpha in [-1, 1]
    assert ((gradient >= 0) & (gradient <= 1)).all()  # beta in [0, 1]
    assert not np.allclose(forward, gradient)
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), 0.5)


def test_separated_stochastic_depth_drops_parts_independently():
    layer = StochasticDepth(0.5, separate_from=2, seed=0)
    out = np.asarray(layer(np.ones((200, 1, 1, 5), "float32"), training=True))[:, 0, 0]
    old, new = out[:, 0], out[:, 4]
    assert (out[:, :2] == old[:, None]).all() and (out[:, 2:] == new[:, None]).all()
    assert (old != new).any()


def test_bad_depth_and_options():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        pyramidnet(depth=21)
    with pytest.raises(ValueError, match="regularization"):
        pyramidnet(depth=20, regularization="dropout")


def test_tanaka_network_shape_and_layout():
    model = tanaka_network(num_classes=10)
    assert model.output_shape == (None, 10)
    assert model.get_layer("stem_depth_to_space").output.shape == (None, 32, 32, 32)
    assert model.get_layer("stage3_unit2_add").output.shape == (None, 8, 8, 256)
    probabilities = np.asarray(model(np.zeros((1, 32, 32, 3), "float32")))
    np.testing.assert_allclose(probabilities.sum(), 1, rtol=1e-5)
