"""Sample images: decode (TensorFlow), fit to a model input, preprocess; or a synthetic image.

Seed 000 read a photo with OpenCV, resized it to the input size and added a batch dimension;
seed 001 preprocessed with `(x - 127.5) * 0.0078125`. Here TensorFlow decodes (jpeg/png/bmp/gif,
no OpenCV), `fit_image` resizes and matches channels and dtype, and `preprocess` applies one of
the `tfperf_preprocess` presets ("auto", the default, picks the range the model expects:
`inputs.ranges`). Without a path, `synthetic_image` (inputs.py) gives the same
bytes every run. `sample_feed` feeds a whole model: the sample image to its image input, the input
policy's arrays (`inputs.sample_inputs`) to the others.

Example:
    x = sample_image_for(frozen_graph, "images/astronaut.jpg", preprocess="tf")  # [1,H,W,3] float32
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np

from pytest_tfperf.errors import ConfigError, ImageError
from pytest_tfperf.inputs.policy import DEFAULT_CHANNELS, DEFAULT_IMAGE_SIZE, choose_shape, sample_inputs, synthetic_image
from pytest_tfperf.inputs.presets import PRESETS, Preprocess, parse_preprocess  # noqa: F401  (re-exported)

DEFAULT_SIZE = DEFAULT_IMAGE_SIZE  # H/W used when the model input leaves them unknown (inputs.py)
CAFFE_BGR_MEANS = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)

def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decode a jpeg/png/bmp/gif file with TensorFlow (first frame of a gif).

    Args:
        path: the image file.
    Returns:
        a uint8 array [H, W, C] (C = 1, 3 or 4, as stored).
    Raises:
        ImageError: naming the path, if it is missing, empty or not a decodable image.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        where = "is a directory" if os.path.isdir(path) else "does not exist"
        raise ImageError(f"sample image {path!r} {where} (cwd {os.getcwd()!r}): give the path of a "
                         "jpeg/png/bmp/gif file, relative to the rootdir or absolute.")
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ImageError(f"sample image {path!r} is empty (0 bytes): re-save or re-download it.")
    import tensorflow as tf

    try:
        image = tf.io.decode_image(data, dtype=tf.uint8, expand_animations=False).numpy()
    except (tf.errors.OpError, ValueError) as exc:
        raise ImageError(f"sample image {path!r} ({len(data)} bytes) is not a jpeg/png/bmp/gif image "
                         f"TensorFlow can decode ({_reason(exc)}): re-save it as jpeg or png.") from None
    return image


def _reason(exc: Exception) -> str:
    """TensorFlow's message without the '{{function_node ...}}' prefix and '[Op:...]' suffix."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:\w+\]$", "", text).rstrip(". ")[:200]


def _apply(preset: Preprocess, x: np.ndarray) -> np.ndarray:
    name = preset.name
    if name == "none":
        return x
    if name == "unit":
        return x / np.float32(255.0)
    if name == "tf":  # seed 001, exactly
        return (x - np.float32(127.5)) * np.float32(0.0078125)
    if name == "scale":
        return x * np.float32(preset.scale) + np.float32(preset.offset)
    if x.shape[-1] != 3:
        raise ImageError(f"preprocess {name!r} needs a 3-channel RGB image; this one has "
                         f"{x.shape[-1]} channels. Use tfperf_preprocess = unit, tf or scale=S,offset=O.")
    if name == "caffe":  # RGB -> BGR, then subtract the ImageNet means (BGR order)
        return x[..., ::-1] - np.asarray(CAFFE_BGR_MEANS, np.float32)
    mean, std = np.asarray(TORCH_MEAN, np.float32), np.asarray(TORCH_STD, np.float32)
    return (x / np.float32(255.0) - mean) / std


def preprocess(image: np.ndarray, preset: str | Preprocess = "none") -> np.ndarray:
    """Apply a `tfperf_preprocess` preset to pixel values in [0, 255].

    Args:
        image: [..., C] array (uint8 or float), channels last, RGB order.
        preset: "none" (values as they are), "unit" ([0, 1]), "tf" ([-1, 1], `(x-127.5)*0.0078125`),
            "caffe" (BGR minus ImageNet means), "torch" (/255, then (x-mean)/std), or
            "scale=S,offset=O" (x*S+O); or a parsed `Preprocess`.
    Returns:
        a float32 array of the same shape.
    """
    spec = parse_preprocess(preset)
    out = _apply(spec, np.asarray(image, dtype=np.float32))
    return np.ascontiguousarray(out, dtype=np.float32)


def _target_hwc(shape: Sequence | None) -> tuple[int, int, int]:
    dims = list(shape) if shape is not None else [None, None, None, None]
    if len(dims) == 4:
        dims = dims[1:]
    if len(dims) != 3:
        raise ImageError(f"cannot fit an image to input shape {list(shape)}: expected [N, H, W, C] "
                         "(channels last).")
    h, w, c = ((int(d) if d is not None and int(d) > 0 else None) for d in dims)
    return h or DEFAULT_IMAGE_SIZE, w or DEFAULT_IMAGE_SIZE, c or DEFAULT_CHANNELS


def _match_channels(x: np.ndarray, channels: int) -> np.ndarray:
    have = x.shape[-1]
    if have == channels:
        return x
    if have == 2:  # gray + alpha
        x, have = x[..., :1], 1
    elif have == 4:  # RGBA: drop alpha
        x, have = x[..., :3], 3
    if have == channels:
        return x
    if have == 1 and channels == 3:
        return np.repeat(x, 3, axis=-1)
    if have == 3 and channels == 1:  # ITU-R 601 luma, as tf.image.rgb_to_grayscale
        weights = np.asarray([0.2989, 0.5870, 0.1140], np.float32)
        return (x @ weights)[..., None]
    if channels == 4 and have in (1, 3):  # opaque alpha
        rgb = np.repeat(x, 3, axis=-1) if have == 1 else x
        return np.concatenate([rgb, np.full(rgb.shape[:-1] + (1,), 255.0, np.float32)], axis=-1)
    raise ImageError(f"cannot turn a {x.shape[-1]}-channel image into the {channels} channels the "
                     "model input wants: use a gray, RGB or RGBA image.")


def fit_image(image: np.ndarray, shape: Sequence | None, dtype: str = "float32") -> np.ndarray:
    """Resize (bilinear) and match channels and dtype; add the batch dimension.

    Args:
        image: [H, W, C] (or [H, W]) pixel values in [0, 255].
        shape: the model input shape, [N, H, W, C] or [H, W, C]; unknown H/W become 224,
            unknown C becomes 3.
        dtype: the model input dtype: float types get float values in [0, 255] (not preprocessed),
            integer types get rounded, clipped values.
    Returns:
        an array [1, H, W, C] of `dtype`.
    """
    x = np.asarray(image)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or 0 in x.shape:
        raise ImageError(f"expected an image [H, W, C]; received an array of shape {list(x.shape)}.")
    h, w, c = _target_hwc(shape)
    x = _match_channels(x.astype(np.float32), c)
    if x.shape[:2] != (h, w):
        import tensorflow as tf

        x = tf.image.resize(x, [h, w], method="bilinear").numpy()
    out_dtype = np.dtype(dtype)
    if np.issubdtype(out_dtype, np.integer):
        info = np.iinfo(out_dtype)
        x = np.clip(np.rint(x), max(info.min, 0), min(info.max, 255))
    return np.ascontiguousarray(x[None], dtype=out_dtype)


def image_input(frozen_graph, input_name: str | None = None):
    """The `TensorSpec` of the model's image input: the named one, else the first rank-4 input.

    Raises:
        ImageError: when the model has no rank-4 input (naming the inputs it has) or the named
            input does not exist / is not rank 4.
    """
    from pytest_tfperf.model.graphs import tensor_name

    inputs = tuple(frozen_graph.inputs)
    described = ", ".join(f"{s.name} {s.dtype}{_shape_text(s.shape)}" for s in inputs) or "none"
    model = getattr(frozen_graph, "name", "the model")
    if input_name is not None:
        wanted = tensor_name(input_name)
        for spec in inputs:
            if spec.name == wanted:
                if spec.shape is not None and len(spec.shape) != 4:
                    raise ImageError(f"input {spec.name!r} of model {model} is not an image input "
                                     f"[N, H, W, C]: shape {_shape_text(spec.shape)}.")
                return spec
        from pytest_tfperf.errors import close_matches

        hint = close_matches(input_name, [s.name for s in inputs])
        raise ImageError(f"model {model} has no input {input_name!r}"
                         + (f"; did you mean {', '.join(map(repr, hint))}?" if hint else ".")
                         + f" Its inputs: {described}.")
    for spec in inputs:
        if spec.shape is not None and len(spec.shape) == 4:
            return spec
    raise ImageError(f"model {model} has no image input (rank 4, [N, H, W, C]) to feed a sample "
                     f"image to; its inputs: {described}. Feed your own arrays instead of "
                     "`sample_image`, or name the image input.")


def _shape_text(shape) -> str:
    if shape is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def sample_image_for(frozen_graph, path: str | os.PathLike | None = None,
                     preprocess: str | Preprocess = "auto", input_name: str | None = None,
                     seed: int = 0) -> np.ndarray:
    """The sample image fitted to a model's image input: `[1, H, W, C]`, preprocessed.

    Args:
        frozen_graph: a `FrozenGraph` (anything with `.inputs`, a tuple of `TensorSpec`).
        path: a jpeg/png/bmp/gif file; None for `synthetic_image(H, W, C, seed)`.
        preprocess: a `tfperf_preprocess` value (see `preprocess`); "auto" (default) puts the
            pixels in the range the model expects (`inputs.ranges.resolve_preprocess`: the
            graph's Rescaling / Normalization prologue or a TFLite input's quantization, else
            [0, 1]).
        input_name: which input to fit; default the first rank-4 input.
        seed: seed of the synthetic image.
    Returns:
        the model input's dtype (float32 for float models), shape [1, H, W, C] (the image repeated
        N times if the model pins a batch size N > 1); unknown H/W are 224.
    Raises:
        ImageError: no rank-4 input, bad image file; ConfigError: bad preprocess value, or a
        preprocess other than "none" for an integer (e.g. uint8) input.
    """
    return fitted_sample_image(frozen_graph, path, preprocess, input_name, seed)[0]


def fitted_sample_image(model, path=None, preprocess: str | Preprocess = "auto",
                        input_name: str | None = None, seed: int = 0,
                        image: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """`sample_image_for` and the words naming the value range chosen ("pixels/255 [0,1]: the
    graph gives no input range"); `image` ([H, W, C] pixels) replaces the file / synthetic one."""
    from pytest_tfperf.inputs.ranges import describe_preprocess, resolve_preprocess

    spec = image_input(model, input_name)
    h, w, c = _target_hwc(spec.shape)
    synthetic = path is None and image is None
    if image is None:
        image = load_image(path) if path is not None else synthetic_image(h, w, c, seed=seed)
    prep, why = resolve_preprocess(model, spec, preprocess, synthetic=synthetic)
    dtype = np.dtype(spec.dtype) if spec.dtype not in ("bfloat16", "unknown") else np.dtype("float32")
    if getattr(spec, "quantization", None) is not None and np.issubdtype(dtype, np.integer):
        dtype = np.dtype("float32")  # a quantized (int8 TFLite) input takes the float image:
        # the model's runner quantizes it with the input's own scale and zero point
    if np.issubdtype(dtype, np.integer):
        if parse_preprocess(preprocess or "auto").name not in ("none", "auto"):
            raise ConfigError(f"tfperf_preprocess={_text(prep)!r} makes float values, but input "
                              f"{spec.name!r} is {spec.dtype}: set tfperf_preprocess = none for "
                              "models that take raw pixels.")
        why = f"{describe_preprocess(Preprocess('none'))}: {spec.dtype} input"
        return _batch(fit_image(image, spec.shape, spec.dtype), spec.shape), why
    if not np.issubdtype(dtype, np.floating):
        raise ImageError(f"input {spec.name!r} is {spec.dtype}, not a pixel type (float or integer).")
    fitted = fit_image(image, spec.shape, "float32")
    return _batch(np.ascontiguousarray(_apply(prep, fitted), dtype=dtype), spec.shape), why


def _batch(x: np.ndarray, shape) -> np.ndarray:
    """Repeat the one image when the model pins a batch size above 1 (e.g. [8, H, W, C])."""
    n = shape[0] if shape is not None and len(shape) == 4 else None
    return np.repeat(x, int(n), axis=0) if n is not None and int(n) > 1 else x


def _text(prep: Preprocess) -> str:
    return prep.name if prep.name != "scale" else f"scale={prep.scale:g},offset={prep.offset:g}"


def sample_feed(model, path: str | os.PathLike | None = None, preprocess: str | Preprocess = "auto",
                *, image: np.ndarray | None = None, seed: int = 0, image_range: str | None = None):
    """Inputs for a model nobody gave inputs for: the sample image for its image input (`image`,
    else `sample_image_for(model, path, preprocess)`), the input policy's arrays for every other
    input (`inputs.sample_inputs`); a model with no image input gets the policy's arrays only.

    Returns:
        `inputs.SampleInputs` ({tensor name: array}; `sources` says "sample image" / "synthetic",
        `guessed` which dims were chosen, e.g. unknown H/W pinned to 224, `ranges` the value
        range chosen for the image, `image_range` when the caller fitted `image`).
    Raises:
        ImageError: `path` or `image` given for a model without an image input, or a bad file.
    """
    try:
        spec = image_input(model)
    except ImageError:
        if path is not None or image is not None:
            raise
        return sample_inputs(model, seed=seed)
    if image is None:
        image, image_range = fitted_sample_image(model, path, preprocess, spec.name, seed)
    feed = sample_inputs(model, seed=seed, given={spec.name: image}, given_source="sample image")
    _shape, guessed = choose_shape(spec.shape, name=spec.name)
    if guessed:
        feed.guessed[spec.name] = guessed
    if image_range:
        feed.ranges[spec.name] = image_range
    return feed
