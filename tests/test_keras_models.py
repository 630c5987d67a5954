"""zoo-keras' AlexNet variants: they build, run forward and backward, and have the pinned sizes."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.api.errors import UsageError
from zoo.plugins.backends import get_backend
from zoo.run.building import summarize_model
from zoo_keras import models
from zoo_keras.layers import LocalResponseNormalization, lrn_ops, lrn_tensorflow
from zoo_keras.runtime import keras, quiet_numpy_copy_warning

SMALL_INPUTS = [(1, 28, 28), (3, 32, 32)]
VARIANTS = {
    "alexnet_bn": models.alexnet_bn,
    "alexnet_res": models.alexnet_res,
    "alexnet_small": models.alexnet_small,
}

# Trainable parameters, worked out by hand for 10 classes (k*k*in*out [+ out bias]; BatchNorm 2*channels).
# alexnet_bn at 1x28x28 -- conv1 11*11*1*96+96 = 11,712; conv2 5*5*96*256+256 = 614,656;
#   conv3 3*3*256*384+384 = 885,120; conv4 3*3*384*384+384 = 1,327,488; conv5 3*3*384*256+256 = 884,992;
#   BN 192+512+768+768+512 = 2,752; 28 -> 7 (conv1 stride 4) -> 3 (pool2) -> 1 (pool5): 256 features;
#   fc1 256*4096+4096 = 1,052,672; fc2 4096*4096+4096 = 16,781,312; fc3 4096*10+10 = 40,970.
#   Total 21,601,674. With 3 channels conv1 gains 11*11*2*96 = 23,232 -> 21,624,906.
# alexnet_res at 1x28x28 -- conv1 11*11*1*96 = 11,616 (no bias); bn1 192;
#   block1 96->256 (width 64): 96*64 + 128 + 9*64*64 + 128 + 64*256 + 512 + projection 96*256 + 512 = 85,248;
#   block2 256->384 (width 96): 256*96 + 192 + 9*96*96 + 192 + 96*384 + 768 + 256*384 + 768 = 244,608;
#   block3 384->384 (identity): 384*96 + 192 + 9*96*96 + 192 + 96*384 + 768 = 157,824;
#   block4 384->256 (width 64): 384*64 + 128 + 9*64*64 + 128 + 64*256 + 512 + 384*256 + 512 = 177,408;
#   28 -> 7 -> 3 (pool1) -> 1 (pool5): fc1 1,052,672; fc2 16,781,312; fc3 40,970.
#   Total 18,551,850. With 3 channels conv1 gains 23,232 -> 18,575,082.
# alexnet_small at 1x28x28 -- convs without bias: 5*5*1*96 = 2,400; 5*5*96*256 = 614,400;
#   3*3*256*384 = 884,736; 3*3*384*384 = 1,327,104; 3*3*384*256 = 884,736; BN 2,752;
#   28 -> 14 -> 7 -> 4 ("same" pools): 256*4*4 = 4096 features; fc1 4096*1024+1024 = 4,195,328;
#   fc2 1024*1024+1024 = 1,049,600; fc3 1024*10+10 = 10,250. Total 8,971,306.
#   With 3 channels conv1 gains 5*5*2*96 = 4,800 -> 8,976,106.
# alexnet at 3x227x227 -- convs with bias 34,944 + 614,656 + 885,120 + 1,327,488 + 884,992 = 3,747,200;
#   227 -> 55 -> 27 -> 13 -> 6: 256*6*6 = 9216 features; fc1 9216*4096+4096 = 37,752,832;
#   fc2 16,781,312; fc3 40,970. Total 58,322,314 (the paper's ~60M with a 1000-class head).
#   At 3x67x67: 67 -> 15 -> 7 -> 3 -> 1: fc1 256*4096+4096 -> 21,622,154.
PARAMS = {
    ("alexnet_bn", (1, 28, 28)): 21_601_674,
    ("alexnet_bn", (3, 32, 32)): 21_624_906,
    ("alexnet_res", (1, 28, 28)): 18_551_850,
    ("alexnet_res", (3, 32, 32)): 18_575_082,
    ("alexnet_small", (1, 28, 28)): 8_971_306,
    ("alexnet_small", (3, 32, 32)): 8_976_106,
    ("alexnet", (3, 227, 227)): 58_322_314,
    ("alexnet", (3, 67, 67)): 21_622_154,
}


def trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def train_step(model: keras.Model, shape: tuple[int, int, int], num_classes: int = 10) -> tuple[float, bool]:
    """One real Adam step on a random batch: (loss, whether every trainable weight moved)."""
    channels, height, width = shape
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, height, width, channels)).astype("float32")
    y = rng.integers(0, num_classes, 4).astype("int32")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    with quiet_numpy_copy_warning():
        before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        loss = float(model.train_on_batch(x, y))
        after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    moved = all(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))
    logits = model.predict_on_batch(x)
    assert logits.shape == (4, num_classes)
    return loss, moved


@pytest.mark.parametrize("shape", SMALL_INPUTS, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_trains_one_step(variant: str, shape: tuple[int, int, int]) -> None:
    model = VARIANTS[variant](num_classes=10, in_chans=shape[0], img_size=shape[1:])
    assert trainable(model) == PARAMS[(variant, shape)]
    loss, moved = train_step(model, shape)
    assert np.isfinite(loss)
    assert moved, "an Adam step should change every trainable weight"


@pytest.mark.parametrize("shape", SMALL_INPUTS, ids=lambda s: "x".join(map(str, s)))
def test_classic_alexnet_refuses_small_inputs_clearly(shape: tuple[int, int, int]) -> None:
    with pytest.raises(UsageError) as info:
        models.alexnet(num_classes=10, in_chans=shape[0], img_size=shape[1:])
    message = str(info.value)
    assert "alexnet-keras" in message and "67x67" in message and f"{shape[1]}x{shape[2]}" in message
    assert "\n" not in message


@pytest.mark.parametrize("builder", [models.alexnet_bn, models.alexnet_res, models.alexnet_small])
def test_other_variants_refuse_inputs_below_their_minimum(builder) -> None:
    with pytest.raises(UsageError, match="at least"):
        builder(num_classes=10, in_chans=1, img_size=(7, 7))


def test_classic_alexnet_trains_at_its_minimum() -> None:
    model = models.alexnet(num_classes=10, in_chans=3, img_size=(67, 67))
    assert trainable(model) == PARAMS[("alexnet", (3, 67, 67))]
    loss, moved = train_step(model, (3, 67, 67))
    assert np.isfinite(loss) and moved


def test_classic_alexnet_at_227_is_the_papers_network() -> None:
    summary = summarize_model("alexnet-keras", (3, 227, 227))
    assert summary.param_count == PARAMS[("alexnet", (3, 227, 227))]
    shapes = {row.name: row.output_shape for row in summary.layers}
    assert shapes["conv1"] == (96, 55, 55)
    assert shapes["pool1"] == (96, 27, 27)
    assert shapes["pool2"] == (256, 13, 13)
    assert shapes["pool5"] == (256, 6, 6)
    assert shapes["flatten"] == (9216,)


def test_alexnet_bn_summary_pins_stages_params_and_macs() -> None:
    summary = summarize_model("alexnet-keras-bn", (1, 28, 28))
    assert summary.param_count == 21_601_674
    # MACs, conv: out_h*out_w*out_c*k*k*in_c; dense: in*out.
    # conv1 7*7*96*121*1 = 569,184; conv2 7*7*256*25*96 = 30,105,600; conv3 3*3*384*9*256 = 7,962,624;
    # conv4 3*3*384*9*384 = 11,943,936; conv5 3*3*256*9*384 = 7,962,624;
    # fc1 256*4096 = 1,048,576; fc2 4096*4096 = 16,777,216; fc3 4096*10 = 40,960.
    assert summary.macs == 76_410_720
    rows = {row.name: row for row in summary.layers}
    assert list(rows) == [
        "conv1", "bn1", "conv2", "bn2", "pool2", "conv3", "bn3", "conv4", "bn4", "conv5", "bn5", "pool5",
        "flatten", "fc1", "fc2", "fc3",
    ]
    assert rows["conv1"].output_shape == (96, 7, 7) and rows["conv1"].params == 11_712
    assert rows["pool2"].output_shape == (256, 3, 3) and rows["pool2"].kind == "maxpool"
    assert rows["pool5"].output_shape == (256, 1, 1) and rows["pool5"].kind == "avgpool"
    assert rows["fc3"].output_shape == (10,) and rows["fc3"].kind == "dense"


def test_alexnet_bn_is_the_tutorials_sequential_model() -> None:
    model = models.alexnet_bn(num_classes=10, in_chans=1, img_size=(28, 28))
    assert isinstance(model, keras.Sequential)
    bn = model.get_layer("bn1")
    assert bn.momentum == pytest.approx(0.9) and bn.epsilon == pytest.approx(1e-5)
    conv = model.get_layer("conv1")
    assert conv.padding == "same" and conv.strides == (4, 4) and conv.use_bias
    assert isinstance(conv.kernel_initializer, keras.initializers.GlorotUniform)


def test_alexnet_res_blocks_have_projection_only_when_channels_change() -> None:
    model = models.alexnet_res(num_classes=10, in_chans=3, img_size=(32, 32))
    names = {f"block{i}": {layer.name for layer in model.get_layer(f"block{i}").layers} for i in range(1, 5)}
    assert "proj_conv" in names["block1"] and "proj_conv" in names["block2"]
    assert "proj_conv" not in names["block3"]  # 384 -> 384: identity shortcut
    assert "proj_conv" in names["block4"]
    summary = summarize_model("alexnet-keras-res", (3, 32, 32))
    shapes = {row.name: row.output_shape for row in summary.layers}
    assert shapes["conv1"] == (96, 8, 8) and shapes["pool1"] == (96, 3, 3)
    assert shapes["block4"] == (256, 3, 3) and shapes["pool5"] == (256, 1, 1)


def test_flatten_size_follows_the_input_size() -> None:
    for size, features in (((28, 28), 4096), ((32, 32), 4096), ((8, 8), 256), ((40, 40), 256 * 5 * 5)):
        model = models.alexnet_small(num_classes=3, in_chans=1, img_size=size)
        assert model.get_layer("flatten").output.shape[-1] == features


def reference_lrn(a: np.ndarray, size: int, alpha: float, beta: float, k: float) -> np.ndarray:
    """torch.nn.LocalResponseNorm's formula for channels-last arrays, written out with loops."""
    out = np.empty_like(a)
    channels = a.shape[-1]
    for c in range(channels):
        lo, hi = max(0, c - size // 2), min(channels, c + (size - 1) // 2 + 1)
        window = (a[..., lo:hi] ** 2).sum(axis=-1)
        out[..., c] = a[..., c] / (k + alpha / size * window) ** beta
    return out


@pytest.mark.parametrize("size", [5, 4, 1])
def test_lrn_matches_torch_formula(size: int) -> None:
    a = np.random.default_rng(1).normal(scale=5.0, size=(2, 3, 4, 7)).astype("float32")
    got = np.asarray(LocalResponseNormalization(size, alpha=1e-2, beta=0.75, k=2.0)(a))
    np.testing.assert_allclose(got, reference_lrn(a, size, 1e-2, 0.75, 2.0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", [5, 3, 1])
def test_tensorflow_lrn_op_equals_the_portable_one_in_value_and_gradient(size: int) -> None:
    """The TensorFlow backend's fused op (what the layer runs there) against the keras.ops sum of slices."""
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow backend only")
    rng = np.random.default_rng(2)
    a = tf.constant(rng.normal(scale=5.0, size=(2, 3, 4, 9)).astype("float32"))
    grad_out = tf.constant(rng.normal(size=(2, 3, 4, 9)).astype("float32"))
    results = []
    for lrn in (lrn_tensorflow, lrn_ops):
        with tf.GradientTape() as tape:
            tape.watch(a)
            out = lrn(a, size, 1e-2, 0.75, 2.0)
        results.append((out.numpy(), tape.gradient(out, a, output_gradients=grad_out).numpy()))
    (fused, fused_grad), (portable, portable_grad) = results
    np.testing.assert_allclose(fused, portable, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused_grad, portable_grad, rtol=1e-4, atol=1e-6)
    half = lrn_tensorflow(tf.cast(a, "bfloat16"), size, 1e-2, 0.75, 2.0)  # no bfloat16 kernel: computed in float32
    assert half.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(half, "float32").numpy(), fused, rtol=2e-2, atol=2e-2)


def test_lrn_round_trips_through_its_config() -> None:
    layer = LocalResponseNormalization(5, alpha=1e-4, beta=0.75, k=2.0, name="lrn1")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(clone, LocalResponseNormalization)
    assert (clone.size, clone.alpha, clone.beta, clone.k, clone.name) == (5, 1e-4, 0.75, 2.0, "lrn1")


def test_create_model_goes_through_the_registry() -> None:
    from zoo.run.building import create_model

    model = create_model("alexnet-keras-small", num_classes=7, in_chans=1, img_size=(28, 28))
    assert model.output_shape == (None, 7)
    assert get_backend("keras").name == "keras"
