"""The one synthetic / sample input policy: shapes for unknown dims, values per dtype, and how
the choice is reported.

Every place that feeds a model something the user did not give (FLOP counting, profiles, the
equivalence proof's synthetic and random sets, `tfperf bench` / `optimize` / `variants`, the
declarative `latency_budget`) asks this module, so a model is always fed the same way.

Policy (deterministic: the same seed gives the same bytes every run):
- unknown dims: the batch (dim 0) is 1; H/W of an image-like input (rank 4, channels last,
  1/3/4 or unknown channels) are 224 and unknown channels 3; every other unknown dim (a sequence
  length, a feature count) is 16. Unknown rank is an `InputError` (no rank can be guessed).
  Each guessed dim is recorded (`SampleInputs.guessed`) and every non-batch guess is said
  wherever the input is described (`timed_inputs.describe`, the reports): "[1,224,224,3]
  float32 (dynamic H/W: pinned to 224)".
- floats: uniform in [0, 1); a float that the graph casts into Gather indices gets whole
  numbers in the index range instead.
- integers: token ids / indices within the valid range read from the graph: below the first dim
  of every Gather / embedding table they index, below a `OneHot` depth, or keys of the lookup
  table they are looked up in; otherwise uniform in [1, 9] (no 0: a count or length of 0 would
  give the model no work).
- bools: fair coin flips.
- strings: words of the vocabulary of the lookup table(s) the input reaches (a `StringLookup`,
  `TextVectorization`, any `tf.lookup` table frozen into the graph), else plain ASCII words; an
  input that is split into words before the lookup (`TextVectorization`) gets sentences of 16.

Public: `sample_inputs`, `SampleInputs`, `choose_shape`, `describe_guesses`, `synthetic_array`,
`value_domain`, `ValueDomain`, `table_keys`, `is_image_like`, `synthetic_image`, and the
`DEFAULT_*` constants (`timed_inputs.describe` words what was fed).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pytest_tfperf.model import graphs
from pytest_tfperf.errors import ImageError, InputError

DEFAULT_SEED = 0
DEFAULT_BATCH = 1
DEFAULT_IMAGE_SIZE = 224      # unknown H/W of an image-like input
DEFAULT_CHANNELS = 3          # unknown channels of an image-like input
DEFAULT_SEQUENCE_LENGTH = 16  # every other unknown dim; also words per generated sentence
FLOAT_RANGE = (0.0, 1.0)      # [low, high)
INT_RANGE = (1, 9)            # [low, high], when the graph gives no index range
WORDS = ("the", "a", "cat", "dog", "sat", "ran", "on", "mat", "red", "blue", "small", "big",
         "house", "tree", "river", "light", "and", "with", "over", "under")

# Ops an index tensor passes through unchanged on its way to a Gather (the data operand only).
_PASS_THROUGH = frozenset({
    "Identity", "Cast", "Reshape", "ExpandDims", "Squeeze", "StopGradient", "Snapshot",
    "Transpose", "StridedSlice", "Slice", "Tile", "Enter", "Switch", "Merge", "IdentityN",
})
_SELECTS = frozenset({"Select", "SelectV2"})  # values pass on ports 1 and 2 (Keras' negative-id wrap)
_GATHERS = frozenset({"Gather", "GatherV2", "ResourceGather", "GatherNd", "ResourceGatherNd"})
_SPLITS = frozenset({"StringSplit", "StringSplitV2", "StringNGrams", "RegexSplitWithOffsets",
                     "WhitespaceTokenizeWithOffsets", "UnicodeScript"})


@dataclasses.dataclass(frozen=True)
class ValueDomain:
    """What values one input takes, read from the graph.

    Attributes:
        low, high: integer range [low, high) (ints, and floats cast to indices); None = default.
        vocabulary: words for string inputs (from lookup tables), or None (plain ASCII words).
        choices: the integer keys of the lookup table an integer input is looked up in.
        words_per_item: words per string element (1 = single tokens; > 1 = sentences).
        why: where the range came from, e.g. "Gather table emb/embeddings [1000, 32]".
    """

    low: int | None = None
    high: int | None = None
    vocabulary: tuple[str, ...] | None = None
    choices: tuple[int, ...] | None = None
    words_per_item: int = 1
    why: str = ""


class SampleInputs(dict):
    """`{tensor name: array}` for `FrozenGraph.feed_dict`, which also says how each was made.

    Attributes:
        sources: tensor name -> "given", "sample image" or "synthetic".
        guessed: tensor name -> {dim index: (value, "batch" | "H/W" | "channels" | "sequence
            length" | "dim N")} for every dim the policy chose.
        ranges: tensor name -> the value range chosen for a sample image, in words
            ("pixels/255 [0,1]: the graph gives no input range"; `inputs.ranges`).
    """

    def __init__(self, arrays: Mapping[str, np.ndarray] = (), *, sources: Mapping[str, str] | None = None,
                 guessed: Mapping[str, Mapping[int, tuple[int, str]]] | None = None,
                 ranges: Mapping[str, str] | None = None) -> None:
        super().__init__(arrays)
        self.sources = dict(sources or {})
        self.guessed = {k: dict(v) for k, v in (guessed or {}).items()}
        self.ranges = dict(ranges or {})  # tensor name -> the image value range chosen, in words

    def copy(self) -> SampleInputs:
        """A copy with copied arrays and the same records."""
        return SampleInputs({k: np.array(v, copy=True) for k, v in self.items()},
                            sources=self.sources, guessed=self.guessed, ranges=self.ranges)

    @property
    def notes(self) -> tuple[str, ...]:
        """Human notes on the choices, e.g. ("dynamic H/W of image: pinned to 224",)."""
        out = []
        several = len(self) > 1
        for name in self:
            where = f" of {graphs.node_name(name)}" if several else ""
            out += [f"{n}{where}" for n in describe_guesses(self.guessed.get(name, {}))]
        return tuple(out)


# ---------------------------------------------------------------------------------------------
# shapes


def is_image_like(shape: Sequence | None) -> bool:
    """Rank 4, channels last with 1, 3, 4 or unknown channels: [N, H, W, C]."""
    return shape is not None and len(shape) == 4 and shape[3] in (None, 1, 3, 4)


def choose_shape(shape: Sequence | None, *, name: str = "input", model: str = "the model"
                 ) -> tuple[tuple[int, ...], dict[int, tuple[int, str]]]:
    """The concrete shape fed for a spec's shape, and which dims were guessed (see module doc).

    Args:
        shape: the spec's shape (None entries / negatives = unknown dims); None = unknown rank.
        name, model: for the error message.
    Returns:
        `(shape, guessed)`: guessed maps dim index -> (value, reason).
    Raises:
        InputError: unknown rank.
    """
    if shape is None:
        raise InputError(f"input {name} of model {model} has unknown rank, so no input can be made "
                         "for it: pass inputs=... or load the model with input_shapes=[[1, ...]] "
                         "(ini tfperf_input_shape).")
    dims = [None if d is None or int(d) < 0 else int(d) for d in shape]
    image = is_image_like(dims)
    out, guessed = [], {}
    for i, d in enumerate(dims):
        if d is not None:
            out.append(d)
            continue
        if i == 0:
            value, why = DEFAULT_BATCH, "batch"
        elif image and i in (1, 2):
            value, why = DEFAULT_IMAGE_SIZE, "H/W"
        elif image and i == 3:
            value, why = DEFAULT_CHANNELS, "channels"
        elif i == 1:
            value, why = DEFAULT_SEQUENCE_LENGTH, "sequence length"
        else:
            value, why = DEFAULT_SEQUENCE_LENGTH, f"dim {i}"
        out.append(value)
        guessed[i] = (value, why)
    return tuple(out), guessed


def describe_guesses(guessed: Mapping[int, tuple[int, str]]) -> list[str]:
    """["dynamic H/W: pinned to 224", ...] for `choose_shape`'s guesses, one per reason; the
    batch (always 1) is not worth a note."""
    by_why: dict[str, int] = {}
    for _, (value, why) in sorted(guessed.items()):
        if why != "batch":
            by_why.setdefault(why, value)
    return [f"dynamic {why}: pinned to {value}" for why, value in by_why.items()]


# ---------------------------------------------------------------------------------------------
# values


def synthetic_array(shape: Sequence[int], dtype: str = "float32", *, rng: np.random.Generator | None = None,
                    domain: ValueDomain | None = None, low: float | None = None,
                    high: float | None = None, name: str = "input") -> np.ndarray:
    """One array of `shape` and `dtype` by the policy (see module doc).

    Args:
        shape: concrete dims (use `choose_shape` for a spec with unknown dims).
        dtype: numpy dtype name ("float32", "int64", "bool", "string"...); bfloat16 gives
            float32 (numpy has none); resource/variant are an `InputError`.
        rng: random generator; None = `default_rng(DEFAULT_SEED)` (the same array every call).
        domain: the graph's value domain for this input (`value_domain`), if known.
        low, high: a value range that overrides the default (floats [low, high), ints
            [low, high]); the equivalence check's random sets keep each given input's range.
        name: the input's name, for the error message.
    Returns:
        a numpy array (strings as an object array of bytes, as TensorFlow returns them).
    """
    dims = tuple(int(d) for d in shape)
    rng = rng if rng is not None else np.random.default_rng(DEFAULT_SEED)
    domain = domain or ValueDomain()
    if dtype in ("string", "object") or str(dtype).startswith(("<U", "|S", "<S")):
        return _strings(dims, rng, domain)
    try:
        np_dtype = np.dtype("float32" if dtype in ("bfloat16", "half") else dtype)
    except TypeError:
        raise InputError(f"input {name!r} has dtype {dtype}; no synthetic value can be made for it. "
                         "Pass inputs=... (an array per input).") from None
    kind = np_dtype.kind
    if kind == "b":
        return rng.random(dims) < 0.5
    indexed = domain.high is not None and low is None and high is None
    if domain.choices and kind in "iu" and low is None and high is None:
        return rng.choice(np.asarray(domain.choices), size=dims).astype(np_dtype)
    if kind in "iu" or (kind in "fc" and indexed):
        if indexed:
            lo, hi = int(domain.low or 0), int(domain.high) - 1
        else:
            lo = INT_RANGE[0] if low is None else int(np.floor(low))
            hi = INT_RANGE[1] if high is None else int(np.ceil(high))
        if kind in "iu":
            info = np.iinfo(np_dtype)
            lo, hi = max(lo, int(info.min)), min(max(hi, lo), int(info.max))
        return rng.integers(lo, max(hi, lo), size=dims, endpoint=True).astype(np_dtype)
    if kind in "fc":
        lo = FLOAT_RANGE[0] if low is None else float(low)
        hi = FLOAT_RANGE[1] if high is None else float(high)
        return (lo + (hi - lo) * rng.random(dims)).astype(np_dtype)
    raise InputError(f"input {name!r} has dtype {dtype}; no synthetic value can be made for it. "
                     "Pass inputs=... (an array per input).")


def _strings(dims: tuple[int, ...], rng: np.random.Generator, domain: ValueDomain) -> np.ndarray:
    words = [w for w in (domain.vocabulary or ()) if w and not any(c.isspace() for c in w)] or list(WORDS)
    picks = rng.integers(0, len(words), size=dims + (max(domain.words_per_item, 1),))
    flat = [" ".join(words[i] for i in row).encode() for row in picks.reshape(-1, picks.shape[-1])]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(dims)


def synthetic_image(height: int, width: int, channels: int = 3, seed: int = DEFAULT_SEED) -> np.ndarray:
    """A deterministic image-like uint8 array [H, W, C]: smooth gradients plus mild noise.

    The `sample_image` fixture's content when no image file is set.

    Args:
        height, width, channels: the size.
        seed: `numpy.random.default_rng` seed; the same seed gives the same bytes every run.
    Returns:
        a uint8 array [height, width, channels].
    """
    if height <= 0 or width <= 0 or channels <= 0:
        raise ImageError(f"synthetic image size must be positive; received {height}x{width}x{channels}.")
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0.0, 1.0, height), np.linspace(0.0, 1.0, width), indexing="ij")
    planes = []
    for _ in range(channels):
        fy, fx = rng.uniform(0.5, 2.5, size=2)
        phase = rng.uniform(0.0, 2 * np.pi)
        tilt = rng.uniform(-60.0, 60.0)
        planes.append(127.5 + 70.0 * np.sin(2 * np.pi * (fy * yy + fx * xx) + phase) + tilt * (xx - yy))
    image = np.stack(planes, axis=-1) + rng.normal(0.0, 8.0, size=(height, width, channels))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# value domains from the graph


def value_domain(graph_def, input_name: str) -> ValueDomain:
    """The values `input_name` should take, read from what the graph does with it.

    Integer (or float-cast-to-int) inputs that index a Gather / embedding table get
    [0, table rows) (the smallest table when several), `OneHot` indices [0, depth), keys of an
    integer lookup table its keys; string inputs get the vocabulary of the lookup tables they
    reach and sentences when they are split into words first.
    """
    if graph_def is None:
        return ValueDomain()
    nodes = graphs.node_map(graph_def)
    readers = graphs.consumers(graph_def)
    start = graphs.node_name(input_name)
    highs: list[tuple[int, str]] = []
    keys: list = []

    def passes(node, ports) -> bool:  # the input's value flows on unchanged (data edges only)
        return (node.op in _PASS_THROUGH and 0 in ports) or (node.op in _SELECTS and bool({1, 2} & set(ports)))

    for node, ports in graphs.walk_readers(start, passes, nodes, readers):
        if node.op in _GATHERS and 1 in ports:
            rows = _gather_rows(node, nodes)
            if rows is not None:
                highs.append(rows)
        elif node.op == "OneHot" and 0 in ports:
            depth = _const(nodes, node.input[1])
            if depth is not None and depth.size == 1:
                highs.append((int(depth), f"OneHot {node.name} depth {int(depth)}"))
        elif node.op in ("LookupTableFindV2", "LookupTableFind") and 1 in ports:
            keys += list(table_keys(graph_def, node.input[0], nodes=nodes, readers=readers))
    if keys and all(isinstance(k, bytes) for k in keys):
        return ValueDomain(vocabulary=tuple(sorted({k.decode("utf-8", "replace") for k in keys})),
                           why="lookup table keys")
    if keys:
        return ValueDomain(choices=tuple(sorted({int(k) for k in keys})), why="lookup table keys")
    if highs:
        high, why = min(highs)
        return ValueDomain(low=0, high=high, why=why)
    return _string_domain(graph_def, start, nodes, readers)


def _string_domain(graph_def, start: str, nodes: dict, readers: dict) -> ValueDomain:
    """Vocabulary of every string lookup table downstream of `start`; sentences when a split op
    lies on the way."""
    down = graphs.descendants(graph_def, [start])
    finds = [nodes[n] for n in down if nodes[n].op in ("LookupTableFindV2", "LookupTableFind")]
    vocab: set[str] = set()
    for find in finds:
        for key in table_keys(graph_def, find.input[0], nodes=nodes, readers=readers):
            if isinstance(key, bytes):
                vocab.add(key.decode("utf-8", "replace"))
    split = any(nodes[n].op in _SPLITS for n in down)
    if not vocab and not split:
        return ValueDomain()
    return ValueDomain(vocabulary=tuple(sorted(vocab)) or None,
                       words_per_item=DEFAULT_SEQUENCE_LENGTH if split else 1,
                       why="lookup table keys" if vocab else "split into words")


def _gather_rows(node, nodes: dict) -> tuple[int, str] | None:
    params = _source(nodes, node.input[0])
    if params is None or params.op != "Const":
        return None
    dims = [int(d.size) for d in params.attr["value"].tensor.tensor_shape.dim]
    axis = 0
    if node.op == "GatherV2" and len(node.input) > 2:
        value = _const(nodes, node.input[2])
        axis = int(value) if value is not None and value.size == 1 else 0
    if not dims or axis >= len(dims):
        return None
    rows = min(dims[:-1]) if node.op.endswith("GatherNd") and len(dims) > 1 else dims[axis]
    return rows, f"Gather table {params.name} {dims}"


def _source(nodes: dict, inp: str):
    """The node behind `inp`, through Identity-like ops."""
    node = nodes.get(graphs.node_name(inp))
    while node is not None and node.op in ("Identity", "ReadVariableOp", "Snapshot", "Enter") and node.input:
        node = nodes.get(graphs.node_name(node.input[0]))
    return node


def _const(nodes: dict, inp: str) -> np.ndarray | None:
    node = _source(nodes, inp)
    if node is None or node.op != "Const":
        return None
    from tensorflow.python.framework import tensor_util

    return np.asarray(tensor_util.MakeNdarray(node.attr["value"].tensor))


def table_keys(graph_def, table_input: str, *, nodes: dict | None = None,
               readers: dict | None = None) -> np.ndarray:
    """Keys a lookup table is initialised with in the graph (`InitializeTableV2` /
    `LookupTableImportV2` from a Const), or an empty array when the graph does not say."""
    nodes = nodes if nodes is not None else graphs.node_map(graph_def)
    readers = readers if readers is not None else graphs.consumers(graph_def)
    table = _source(nodes, table_input)
    if table is None:
        return np.asarray([])
    for reader in readers.get(table.name, ()):
        node = nodes[reader]
        if node.op in graphs.TABLE_INIT_OPS and node.op != "InitializeTableFromTextFileV2" \
                and len(node.input) > 1:
            keys = _const(nodes, node.input[1])
            if keys is not None:
                return keys.reshape(-1)
    return np.asarray([])


# ---------------------------------------------------------------------------------------------
# whole feeds


def sample_inputs(model: Any, *, seed: int = DEFAULT_SEED, given: Mapping[str, Any] | None = None,
                  given_source: str = "given", only: Sequence[str] | None = None) -> SampleInputs:
    """A feed for every required input of `model` by the policy: the one way tfperf makes inputs.

    Args:
        model: a `Model` (its `inputs` specs; its `graph_def`, when it has one, for value domains).
        seed: the same seed gives the same arrays; input i draws from `default_rng([seed, i])`.
        given: arrays for some inputs (by "node" or "node:0"), kept as they are, e.g. the sample
            image for the image input.
        given_source: how `given` arrays are labelled in `SampleInputs.sources`.
        only: make arrays for these inputs only (default: every required input).
    Returns:
        `SampleInputs` ({tensor name: array} with sources and guessed dims).

    Example:
        >>> feed = sample_inputs(load("text_model.keras"))
        >>> timed_inputs.describe(feed)   # '[1,1] string'
    """
    given = {graphs.tensor_name(k): v for k, v in (given or {}).items()}
    wanted = None if only is None else {graphs.tensor_name(n) for n in only}
    graph_def = getattr(model, "graph_def", None)
    label = getattr(model, "name", None) or "the model"
    out = SampleInputs()
    for i, spec in enumerate(model.inputs):
        if wanted is not None and spec.name not in wanted:
            continue
        if spec.name in given:
            out[spec.name] = np.asarray(given[spec.name])
            out.sources[spec.name] = given_source
            continue
        shape, guessed = choose_shape(spec.shape, name=spec.name, model=label)
        domain = value_domain(graph_def, spec.name)
        out[spec.name] = synthetic_array(shape, spec.dtype, rng=np.random.default_rng([seed, i]),
                                         domain=domain, name=spec.name)
        out.sources[spec.name] = "synthetic"
        if guessed:
            out.guessed[spec.name] = guessed
    return out


__all__ = [
    "DEFAULT_BATCH", "DEFAULT_CHANNELS", "DEFAULT_IMAGE_SIZE", "DEFAULT_SEED", "DEFAULT_SEQUENCE_LENGTH",
    "FLOAT_RANGE", "INT_RANGE", "WORDS", "SampleInputs", "ValueDomain", "choose_shape",
    "describe_guesses", "is_image_like", "sample_inputs", "synthetic_array", "synthetic_image",
    "table_keys", "value_domain",
]
