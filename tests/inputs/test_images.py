"""images.py: decode (jpeg/png/bmp/gif by TensorFlow), preprocess presets, fitting, synthetic images."""
from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from pytest_tfperf.errors import ConfigError, ImageError
from pytest_tfperf.inputs.images import (
    fit_image,
    load_image,
    parse_preprocess,
    preprocess,
    sample_image_for,
    synthetic_image,
)

PINNED_SYNTHETIC_SHA = "985327a725f8fa0f"  # numpy PCG64 + normal(), numpy >= 1.17
ASTRONAUT = Path(__file__).resolve().parents[2] / "example_project" / "images" / "astronaut.jpg"


# -- tiny encoders for formats TensorFlow decodes but cannot encode ---------------------------------
def _bmp(rgb: np.ndarray) -> bytes:
    """24-bit bottom-up BMP."""
    h, w, _ = rgb.shape
    row = w * 3
    pad = (4 - row % 4) % 4
    pixels = b"".join(rgb[y, :, ::-1].tobytes() + b"\0" * pad for y in range(h - 1, -1, -1))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def _gif(frames: list[np.ndarray]) -> bytes:
    """GIF89a with a 256-gray palette; LZW with literal codes only (a clear code every 200 pixels)."""
    h, w = frames[0].shape
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF7, 0, 0))
    out += bytes(v for i in range(256) for v in (i, i, i))
    for frame in frames:
        out += b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 0.1 s delay
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0)
        codes = []
        pixels = frame.ravel().tolist()
        for start in range(0, len(pixels), 200):
            codes += [256] + pixels[start:start + 200]
        codes.append(257)
        data, bits, nbits = bytearray(), 0, 0
        for code in codes:  # 9-bit codes, least significant bit first
            bits |= code << nbits
            nbits += 9
            while nbits >= 8:
                data.append(bits & 0xFF)
                bits >>= 8
                nbits -= 8
        if nbits:
            data.append(bits & 0xFF)
        out += b"\x08" + b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255]
                                  for i in range(0, len(data), 255)) + b"\x00"
    return bytes(out + b"\x3b")


@pytest.fixture(scope="module")
def rgb():
    return synthetic_image(12, 20, 3, seed=3)


# -- decoding ----------------------------------------------------------------------------------
def test_sample_photo_decodes():
    image = load_image(ASTRONAUT)
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert image.std() > 30  # a real photo, not a flat or blank file
    assert ASTRONAUT.stat().st_size < 60_000
    assert (ASTRONAUT.parent / "SOURCE.md").is_file()


def test_png_round_trip_is_exact(tmp_path, rgb):
    import tensorflow as tf

    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 200, np.uint8)], axis=-1)
    for name, array in (("rgb.png", rgb), ("rgba.png", rgba), ("gray.png", rgb[..., :1])):
        path = tmp_path / name
        path.write_bytes(tf.io.encode_png(array).numpy())
        np.testing.assert_array_equal(load_image(path), array)


def test_bmp_is_decoded(tmp_path, rgb):
    path = tmp_path / "x.bmp"
    path.write_bytes(_bmp(rgb))
    np.testing.assert_array_equal(load_image(path), rgb)


def test_gif_gives_the_first_frame(tmp_path):
    first = synthetic_image(10, 14, 1, seed=1)[..., 0]
    second = 255 - first
    path = tmp_path / "anim.gif"
    path.write_bytes(_gif([first, second]))
    image = load_image(path)
    assert image.shape == (10, 14, 3)
    np.testing.assert_array_equal(image, np.repeat(first[..., None], 3, axis=-1))


def test_missing_image(tmp_path):
    path = tmp_path / "nowhere" / "face.jpg"
    with pytest.raises(ImageError, match=r"face\.jpg.* does not exist"):
        load_image(path)
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n")
    with pytest.raises(ImageError, match=r"notes\.jpg.*\(20 bytes\) is not a jpeg/png/bmp/gif image"):
        load_image(path)


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "cut.jpg"
    path.write_bytes(ASTRONAUT.read_bytes()[:5000])
    with pytest.raises(ImageError) as info:
        load_image(path)
    msg = str(info.value)
    assert "cut.jpg" in msg and "(5000 bytes)" in msg and "JPEG" in msg
    assert "function_node" not in msg and "[Op:" not in msg


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.png.* is empty \(0 bytes\)"):
        load_image(path)


# -- preprocessing -----------------------------------------------------------------------------
def test_tf_preset_is_seed_001_exactly():
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=-1)
    seed = (x.astype(np.float32) - 127.5) * 0.0078125
    out = preprocess(x, "tf")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, seed)
    assert out.min() == -0.99609375 and out.max() == 0.99609375


def test_presets_on_one_pixel():
    pixel = np.array([[[10, 20, 30]]], np.uint8)
    np.testing.assert_array_equal(preprocess(pixel, "none"), pixel.astype(np.float32))
    np.testing.assert_allclose(preprocess(pixel, "unit"), [[[10 / 255, 20 / 255, 30 / 255]]], rtol=1e-6)
    # caffe: BGR order, minus the ImageNet means in BGR order
    np.testing.assert_allclose(preprocess(pixel, "caffe"),
                               [[[30 - 103.939, 20 - 116.779, 10 - 123.68]]], rtol=1e-6)
    torch = [(10 / 255 - 0.485) / 0.229, (20 / 255 - 0.456) / 0.224, (30 / 255 - 0.406) / 0.225]
    np.testing.assert_allclose(preprocess(pixel, "torch"), [[torch]], rtol=1e-5)
    np.testing.assert_allclose(preprocess(pixel, "scale=0.5,offset=-1"), [[[4, 9, 14]]])
    np.testing.assert_allclose(preprocess(pixel, " Offset = 1 , scale=2 "), [[[21, 41, 61]]])


def test_parse_preprocess():
    assert parse_preprocess(None).name == "none"
    assert parse_preprocess("TF").name == "tf"
    spec = parse_preprocess("scale=0.00392")
    assert (spec.name, spec.scale, spec.offset) == ("scale", 0.00392, 0.0)


@pytest.mark.parametrize("bad", ["tensorflow", "scale=abc", "gain=2", "scale=1,scale=2",
                                 "scale=nan", "scale=1;offset=2"])
def test_bad_preprocess_spec(bad):
    with pytest.raises(ConfigError) as info:
        parse_preprocess(bad)
    assert "tfperf_preprocess" in str(info.value) and repr(bad) in str(info.value)


def test_caffe_needs_rgb():
    with pytest.raises(ImageError, match="3-channel"):
        preprocess(np.zeros((4, 4, 1), np.uint8), "caffe")


# -- fitting -----------------------------------------------------------------------------------
def test_fit_resizes_bilinear_and_adds_batch(rgb):
    import tensorflow as tf

    out = fit_image(rgb, (None, 16, 24, 3))
    assert out.shape == (1, 16, 24, 3) and out.dtype == np.float32
    expected = tf.image.resize(rgb.astype(np.float32), [16, 24], method="bilinear").numpy()
    np.testing.assert_allclose(out[0], expected, atol=1e-4)


def test_fit_same_size_is_exact(rgb):
    np.testing.assert_array_equal(fit_image(rgb, (1, 12, 20, 3))[0], rgb.astype(np.float32))


def test_fit_channels(rgb):
    gray = rgb[..., :1]
    as_rgb = fit_image(gray, (None, 12, 20, 3))[0]
    np.testing.assert_array_equal(as_rgb, np.repeat(gray, 3, axis=-1).astype(np.float32))
    rgba = np.concatenate([rgb, np.zeros(rgb.shape[:2] + (1,), np.uint8)], axis=-1)
    np.testing.assert_array_equal(fit_image(rgba, (None, 12, 20, 3))[0], rgb.astype(np.float32))
    import tensorflow as tf

    as_gray = fit_image(rgb, (None, 12, 20, 1))[0]
    expected = tf.image.rgb_to_grayscale(rgb.astype(np.float32)).numpy()
    np.testing.assert_allclose(as_gray, expected, atol=1e-3)


def test_fit_uint8_and_unknown_size(rgb):
    out = fit_image(rgb, (None, None, None, 3), "uint8")
    assert out.shape == (1, 224, 224, 3) and out.dtype == np.uint8
    assert out.min() >= rgb.min() and out.max() <= rgb.max()  # bilinear never overshoots


# -- synthetic image ---------------------------------------------------------------------------
def test_synthetic_image_is_deterministic_and_image_like():
    a = synthetic_image(32, 32, 3)
    assert a.dtype == np.uint8 and a.shape == (32, 32, 3)
    # the same bytes in every process and on every machine (pinned)
    assert hashlib.sha256(a.tobytes()).hexdigest()[:16] == PINNED_SYNTHETIC_SHA
    np.testing.assert_array_equal(a, synthetic_image(32, 32, 3, seed=0))
    assert not np.array_equal(a, synthetic_image(32, 32, 3, seed=1))
    big = synthetic_image(96, 96, 3).astype(np.float32)
    neighbour = np.abs(np.diff(big, axis=1)).mean()
    shuffled = np.random.default_rng(0).permutation(big.reshape(-1, 3)).reshape(big.shape)
    assert big.std() > 30 and neighbour < np.abs(np.diff(shuffled, axis=1)).mean() / 3



# -- sample_image_for: real models ---------------------------------------------------------------
@pytest.fixture(scope="module")
def toy_models():
    """Frozen graphs with unusual inputs: no image input, uint8 pixels, unknown H/W, fixed batch."""
    import tensorflow as tf

    from pytest_tfperf import load

    def build(fn):
        graph = tf.Graph()
        with graph.as_default():
            fn()
        return load(graph)

    v1 = tf.compat.v1

    def tabular():
        x = v1.placeholder(tf.float32, [None, 8], name="features")
        tf.matmul(x, tf.ones([8, 2]), name="scores")

    def raw_pixels():
        x = v1.placeholder(tf.uint8, [None, 16, 16, 3], name="pixels")
        tf.reduce_mean(tf.cast(x, tf.float32), axis=[1, 2], name="mean")

    def any_size():
        x = v1.placeholder(tf.float32, [None, None, None, 3], name="image")
        tf.reduce_mean(x, axis=[1, 2], name="mean")

    def two_inputs_fixed_batch():
        meta = v1.placeholder(tf.float32, [2, 4], name="meta")
        x = v1.placeholder(tf.float32, [2, 16, 16, 1], name="gray")
        tf.add(tf.reduce_mean(x, axis=[1, 2]), tf.reduce_sum(meta, axis=1, keepdims=True), name="out")

    return {"tabular": build(tabular), "raw_pixels": build(raw_pixels),
            "any_size": build(any_size), "two_inputs": build(two_inputs_fixed_batch)}


def test_synthetic_sample_for_real_model(small_frozen):
    x = sample_image_for(small_frozen)
    assert x.shape == (1, 32, 32, 3) and x.dtype == np.float32
    # the graph says no input range: the input policy's [0, 1] (issue 21), not pixels 0..255
    np.testing.assert_array_equal(x[0], synthetic_image(32, 32, 3).astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(sample_image_for(small_frozen, preprocess="none")[0],
                                  synthetic_image(32, 32, 3).astype(np.float32))
    (logits,) = small_frozen.run(x)
    assert logits.shape == (1, 10) and np.isfinite(logits).all()


def test_photo_sample_for_real_model(small_frozen):
    x = sample_image_for(small_frozen, ASTRONAUT, preprocess="tf")
    expected = (fit_image(load_image(ASTRONAUT), (None, 32, 32, 3)) - 127.5) * 0.0078125
    np.testing.assert_array_equal(x, expected.astype(np.float32))
    assert -1.0 <= x.min() < -0.5 and 0.5 < x.max() <= 1.0
    (logits,) = small_frozen.run(x)
    assert logits.shape == (1, 10)


def test_model_without_image_input(toy_models):
    with pytest.raises(ImageError, match=r"no image input .*its inputs: features:0 float32\[\?,8\]"):
        sample_image_for(toy_models["tabular"])


def test_uint8_model_gets_raw_pixels(toy_models):
    model = toy_models["raw_pixels"]
    x = sample_image_for(model, ASTRONAUT)
    assert x.dtype == np.uint8 and x.shape == (1, 16, 16, 3)
    (mean,) = model.run(x)
    np.testing.assert_allclose(mean, x.astype(np.float32).mean(axis=(1, 2)), rtol=1e-5)
    with pytest.raises(ConfigError, match=r"tfperf_preprocess='tf'.*uint8"):
        sample_image_for(model, ASTRONAUT, preprocess="tf")


def test_unknown_size_becomes_224(toy_models):
    x = sample_image_for(toy_models["any_size"], preprocess="unit")
    assert x.shape == (1, 224, 224, 3) and 0.0 <= x.min() and x.max() <= 1.0


def test_picks_the_rank4_input_and_fills_a_fixed_batch(toy_models):
    model = toy_models["two_inputs"]
    x = sample_image_for(model, ASTRONAUT)
    assert x.shape == (2, 16, 16, 1)
    np.testing.assert_array_equal(x[0], x[1])
    assert sample_image_for(model, input_name="gray").shape == (2, 16, 16, 1)
    with pytest.raises(ImageError, match=r"not an image input"):
        sample_image_for(model, input_name="meta")
    with pytest.raises(ImageError, match=r"no input 'grey'.*did you mean 'gray:0'"):
        sample_image_for(model, input_name="grey")


def test_bad_preprocess_through_sample_image(small_frozen):
    with pytest.raises(ConfigError, match=r"tfperf_preprocess.*'imagenet'"):
        sample_image_for(small_frozen, preprocess="imagenet")
