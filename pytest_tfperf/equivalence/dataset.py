"""Many inputs for an equivalence check (issue 21): a folder of images, an .npy / .npz, or any
iterable of feeds (a `tf.data.Dataset` included), turned into `(label, feed)` pairs.

- a folder: every jpeg/png/bmp/gif in it (sorted by name), decoded, resized and preprocessed
  as the sample image is (`images.fitted_sample_image`; "auto" puts the pixels in the range the
  model expects); labels are the file names;
- an .npy file: an array whose first axis is one input each (`x[i]`, given a batch axis when it
  has one dim fewer than the model's input); labels "x.npy[i]";
- an .npz file: one array per model input (by node or tensor name, or `arr_0`.. in input order),
  first axis one input each;
- an iterable: each item is one feed as `FrozenGraph.feed_dict` accepts (array, list, dict);
  TensorFlow tensors are turned into NumPy; labels "dataset[i]".
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from pytest_tfperf.errors import ConfigError, InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
MAX_INPUTS = 100_000


def dataset_label(dataset: Any) -> str:
    """How reports name a dataset: its path, else its type."""
    if isinstance(dataset, (str, os.PathLike)):
        path = os.fspath(dataset)
        rel = os.path.relpath(path) if os.path.isabs(path) else path
        return rel if not rel.startswith("..") else path
    return type(dataset).__name__


def dataset_feeds(model: Any, dataset: Any, *, preprocess: Any = "auto"
                  ) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """`(label, {tensor name: array})` for every input of `dataset` (see the module doc).

    Raises:
        ConfigError: a path that is not a folder / .npy / .npz, a folder without images, an
            empty dataset; InputError: an item that does not fit the model's inputs.
    """
    if isinstance(dataset, (str, os.PathLike)):
        path = os.fspath(dataset)
        if os.path.isdir(path):
            yield from _folder(model, path, preprocess)
            return
        if not os.path.isfile(path):
            raise ConfigError(f"dataset {path!r} does not exist (cwd {os.getcwd()!r}): give a folder "
                              "of images, an .npy / .npz file, or an iterable of feeds.")
        if path.endswith(".npy"):
            yield from _arrays(model, {model.inputs[0].name: np.load(path, allow_pickle=False)},
                               os.path.basename(path))
            return
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as data:
                arrays = _npz_by_input(model, dict(data), path)
            yield from _arrays(model, arrays, os.path.basename(path))
            return
        raise ConfigError(f"dataset {path!r} is not a folder, .npy or .npz file. Received: "
                          f"dataset={path!r}")
    if isinstance(dataset, np.ndarray):
        yield from _arrays(model, {model.inputs[0].name: dataset}, "dataset")
        return
    if isinstance(dataset, Mapping) or not isinstance(dataset, Iterable):
        raise ConfigError(f"dataset must be a folder of images, an .npy / .npz path or an iterable "
                          f"of feeds (tf.data.Dataset, list of arrays or dicts). Received: "
                          f"{type(dataset).__name__}")
    for i, item in enumerate(dataset):
        if i >= MAX_INPUTS:
            break
        feed = model.feed_dict(_numpy(item))
        yield f"dataset[{i}]", {k: np.asarray(v) for k, v in feed.items()}


def _folder(model, path: str, preprocess) -> Iterator[tuple[str, dict]]:
    from pytest_tfperf.inputs.images import fitted_sample_image, sample_feed

    files = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise ConfigError(f"dataset folder {path!r} holds no image (jpeg/png/bmp/gif): add images "
                          "or give an .npy / .npz file.")
    for name in files:
        image, why = fitted_sample_image(model, os.path.join(path, name), preprocess)
        feed = sample_feed(model, image=image, image_range=why)
        yield name, feed


def _npz_by_input(model, data: dict, path: str) -> dict:
    from pytest_tfperf.model.graphs import node_name

    specs = [s.name for s in model.inputs]
    out = {}
    for i, spec in enumerate(specs):
        for key in (spec, node_name(spec), f"arr_{i}"):
            if key in data:
                out[spec] = data[key]
                break
        else:
            raise InputError(f"dataset {path!r} has no array for input {spec!r}: its arrays are "
                             f"{', '.join(sorted(data))}; name them by input ({node_name(spec)!r}) "
                             f"or order them arr_0, arr_1...")
    return out


def _arrays(model, arrays: dict, label: str) -> Iterator[tuple[str, dict]]:
    counts = {len(a) for a in arrays.values() if np.ndim(a)}
    if len(counts) != 1 or 0 in counts:
        raise InputError(f"dataset {label}: arrays need one common, non-zero first axis (one input "
                         f"each); shapes {[list(np.shape(a)) for a in arrays.values()]}")
    ranks = {s.name: (len(s.shape) if s.shape is not None else None) for s in model.inputs}
    for i in range(counts.pop()):
        feed = {}
        for name, a in arrays.items():
            item = np.asarray(a[i])
            if ranks.get(name) is not None and item.ndim == ranks[name] - 1:
                item = item[None]
            feed[name] = item
        yield f"{label}[{i}]", dict(model.feed_dict(feed))


def _numpy(item: Any) -> Any:
    """Tensors (tf.data elements) -> NumPy, through dicts, lists and tuples."""
    if hasattr(item, "numpy") and callable(item.numpy):
        return item.numpy()
    if isinstance(item, Mapping):
        return {k: _numpy(v) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return [_numpy(v) for v in item]
    return item


__all__ = ["IMAGE_EXTENSIONS", "dataset_feeds", "dataset_label"]
