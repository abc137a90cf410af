"""Per-op FLOP formulas and op classification for `flops.count_flops` (see its docstring).

Shapes are lists of ints (None where unknown). `node_flops(node, ins, outs)` is the formula
table; `classify(op)` tells "counted", "free" or "uncounted"; `canonical_op_type` reads oneDNN
kernel names as the op they implement.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from pytest_tfperf.model import graphs

MATMUL_CONV_OPS = frozenset({
    "Conv2D", "Conv3D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "MatMul", "BatchMatMul",
    "BatchMatMulV2", "BatchMatMulV3", "Einsum",
})
# grappler's fusions -> the op whose arithmetic they carry (the epilogue is element-wise)
FUSED_OPS = {
    "_FusedConv2D": "Conv2D", "_FusedConv3D": "Conv3D", "_FusedMatMul": "MatMul",
    "_FusedDepthwiseConv2dNative": "DepthwiseConv2dNative", "_FusedBatchMatMulV2": "BatchMatMulV2",
}
ELEMENTWISE_OPS = frozenset({
    "Add", "AddV2", "AddN", "Sub", "Mul", "MulNoNan", "Div", "RealDiv", "DivNoNan", "FloorDiv",
    "FloorMod", "Mod", "TruncateDiv", "TruncateMod", "Maximum", "Minimum", "Pow",
    "SquaredDifference", "BiasAdd", "BiasAddV1", "Neg", "Abs", "Sign", "Reciprocal", "Inv",
    "Square", "Sqrt", "Rsqrt", "Exp", "Expm1", "Log", "Log1p", "Sin", "Cos", "Tan", "Asin", "Acos",
    "Atan", "Atan2", "Sinh", "Cosh", "Tanh", "Sigmoid", "Erf", "Erfc", "Floor", "Ceil", "Round",
    "Rint", "Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Softplus", "Softsign", "Softmax",
    "LogSoftmax", "ClipByValue", "Select", "SelectV2", "Greater", "GreaterEqual", "Less",
    "LessEqual", "Equal", "NotEqual", "LogicalAnd", "LogicalOr", "LogicalNot", "IsNan", "IsInf",
    "IsFinite", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "_FusedBatchNormEx",
    "BatchNormWithGlobalNormalization", "L2Loss",
})
WINDOW_OPS = frozenset({"MaxPool", "MaxPoolV2", "AvgPool", "MaxPool3D", "AvgPool3D", "LRN"})
REDUCTION_OPS = frozenset({
    "Mean", "Sum", "Prod", "Max", "Min", "ArgMax", "ArgMin", "All", "Any", "EuclideanNorm",
})
NO_ARITHMETIC_OPS = frozenset({
    "Const", "HostConst", "Identity", "IdentityN", "Placeholder", "PlaceholderWithDefault", "NoOp",
    "Reshape", "Squeeze", "ExpandDims", "Shape", "ShapeN", "Size", "Rank", "Transpose",
    "ConjugateTranspose", "ConcatV2", "Concat", "Pack", "Unpack", "Slice", "StridedSlice", "Split",
    "SplitV", "Pad", "PadV2", "MirrorPad", "Tile", "Gather", "GatherV2", "GatherNd", "Fill",
    "ZerosLike", "OnesLike", "Range", "Cast", "Bitcast", "StopGradient", "PreventGradient",
    "Snapshot", "Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "_SwitchN",
    "RefSwitch", "RefMerge", "RefEnter", "RefExit", "RefNextIteration", "ControlTrigger", "BroadcastTo",
    "BroadcastArgs", "BroadcastGradientArgs", "DepthToSpace", "SpaceToDepth", "SpaceToBatchND",
    "BatchToSpaceND", "ReverseV2", "OneHot", "ResizeNearestNeighbor", "EnsureShape", "_Arg",
    "_Retval", "_Recv", "_Send", "_HostRecv", "_HostSend", "Empty",
    # the tensor lists / arrays that loops (Keras RNNs, dynamic_rnn) read and write
    "TensorListFromTensor", "TensorListGetItem", "TensorListSetItem", "TensorListReserve",
    "TensorListStack", "TensorListLength", "TensorListElementShape", "TensorListPushBack",
    "TensorListPopBack", "TensorListConcatV2", "TensorListGather", "TensorListScatter",
    "TensorListScatterV2", "TensorListScatterIntoExistingList", "TensorListResize",
    "TensorListSplit", "EmptyTensorList", "TensorArrayV3", "TensorArrayReadV3",
    "TensorArrayWriteV3", "TensorArrayGatherV3", "TensorArrayScatterV3", "TensorArraySizeV3",
    "TensorArrayConcatV3", "TensorArraySplitV3",
})

# ---------------------------------------------------------------------------------------------
# op type names


@functools.lru_cache(maxsize=1)
def _registered_ops() -> frozenset:
    return frozenset(graphs.known_ops())


@functools.lru_cache(maxsize=512)
def canonical_op_type(op: str) -> str:
    """The op a kernel implements: '_MklNativeConv2D' -> 'Conv2D', '_MklFusedMatMul' -> '_FusedMatMul'.

    oneDNN builds of TensorFlow rename kernels at run time; reports use the public op name so
    they read the same on every machine. Names that are not oneDNN renames are returned as is.
    """
    for prefix in ("_MklNative", "_Mkl"):
        if op.startswith(prefix):
            rest = op[len(prefix):]
            known = _registered_ops()
            for candidate in (rest, "_" + rest):
                if candidate in known and not candidate.startswith("_Mkl"):
                    return candidate
            return op
    return op


# ---------------------------------------------------------------------------------------------
# per-node formulas. Shapes are lists of ints (None where unknown).


def _num(shape) -> int | None:
    if shape is None or any(d is None or d < 0 for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def _known(shape) -> bool:
    return _num(shape) is not None


def _attr_list(node, name) -> list:
    if name not in node.attr:
        return []
    value = node.attr[name].list
    return [s.decode() if isinstance(s, bytes) else s for s in value.s] or list(value.i)


def _conv_like(op, node, ins, outs) -> int | None:
    out = _num(outs[0]) if outs else None
    if op == "Conv2DBackpropInput":  # inputs: input_sizes, filter [Kh,Kw,Cin,Cout], out_backprop
        if len(ins) < 3 or not _known(ins[1]) or not _known(ins[2]):
            return None
        kh, kw, cin, _ = ins[1]
        return 2 * _num(ins[2]) * kh * kw * cin
    if out is None or len(ins) < 2 or not _known(ins[1]):
        return None
    filt = ins[1]
    if op == "Conv2D":  # filter [Kh, Kw, Cin/groups, Cout]; out counts Cout
        return 2 * out * filt[0] * filt[1] * filt[2]
    if op == "Conv3D":
        return 2 * out * filt[0] * filt[1] * filt[2] * filt[3]
    if op == "DepthwiseConv2dNative":  # filter [Kh, Kw, Cin, M]; out has Cin * M channels
        return 2 * out * filt[0] * filt[1]
    return None


def _matmul_like(op, node, ins, outs) -> int | None:
    out = _num(outs[0]) if outs else None
    if out is None or not ins or not _known(ins[0]):
        return None
    a = ins[0]
    if op == "MatMul":
        k = a[0] if node.attr["transpose_a"].b else a[1]
    else:  # BatchMatMul*: [..., M, K] unless adj_x
        k = a[-2] if node.attr["adj_x"].b else a[-1]
    return 2 * out * int(k)


def _einsum(node, ins) -> tuple[int, str] | None:
    """(flops, category) of an Einsum, or None when its shapes/equation are not supported."""
    equation = node.attr["equation"].s.decode().replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) not in (1, 2) or len(terms) != len(ins) or not all(_known(s) for s in ins):
        return None
    sizes: dict[str, int] = {}
    ellipsis: list[int] = []
    for term, shape in zip(terms, ins):
        before, dots, after = term.partition("...")
        n_ell = len(shape) - len(before) - len(after) if dots else 0
        if n_ell < 0 or (not dots and len(term) != len(shape)):
            return None
        named = list(zip(before, shape[:len(before)])) + list(zip(after, shape[len(shape) - len(after):]))
        for letter, dim in named:
            sizes[letter] = max(sizes.get(letter, 1), int(dim))
        ell = list(shape[len(before):len(before) + n_ell])
        width = max(len(ell), len(ellipsis))
        ell = [1] * (width - len(ell)) + ell
        ellipsis = [max(a, b) for a, b in zip([1] * (width - len(ellipsis)) + ellipsis, ell)]
    if arrow:
        kept = set(rhs.replace("...", ""))
    else:  # implicit output: letters that appear exactly once
        letters = lhs.replace(",", "").replace("...", "")
        kept = {c for c in letters if letters.count(c) == 1}
    mults = math.prod(sizes.values()) * math.prod(ellipsis)
    contracted = set(sizes) - kept
    if len(terms) == 1:
        return (mults if contracted else 0), "other"
    return (2 * mults if contracted else mults), "matmul_conv"


def _window(op, node, ins, outs) -> int | None:
    out = _num(outs[0]) if outs else None
    if out is None:
        return None
    if op == "LRN":
        return out * (2 * int(node.attr["depth_radius"].i) + 1)
    ksize = _attr_list(node, "ksize")
    if not ksize:  # MaxPoolV2 takes ksize as an input tensor; a const we cannot see here
        return None
    return out * int(np.prod(ksize))


def node_flops(node, ins: Sequence, outs: Sequence) -> tuple[dict, bool]:
    """FLOPs of one node: ({category: flops}, resolved).

    Args:
        node: the NodeDef (its op is read through `canonical_op_type`).
        ins: shapes (lists of ints, None unknown) of its data inputs, in order.
        outs: shapes of its outputs, in order.
    Returns:
        ({"matmul_conv"|"elementwise"|"other": flops}, True), or ({}, False) when a shape the
        formula needs is unknown. Ops with no formula return ({}, True); see `classify`.
    """
    op = canonical_op_type(node.op)
    fused_base = FUSED_OPS.get(op)
    base = fused_base or op
    if base == "Einsum":
        found = _einsum(node, ins)
        if found is None:
            return {}, False
        return {found[1]: found[0]}, True
    if base in MATMUL_CONV_OPS:
        count = (_matmul_like if "MatMul" in base else _conv_like)(base, node, ins, outs)
        if count is None:
            return {}, False
        result = {"matmul_conv": count}
        if fused_base:
            out = _num(outs[0]) if outs else None
            if out is None:
                return {}, False
            result["elementwise"] = out * len(_attr_list(node, "fused_ops"))
        return result, True
    if op in ELEMENTWISE_OPS:
        out = _num(outs[0]) if outs else None
        if out is None:
            return {}, False
        per = max(len(ins) - 1, 1) if op == "AddN" else 1
        return {"elementwise": out * per}, True
    if op in WINDOW_OPS:
        count = _window(op, node, ins, outs)
        return ({"other": count}, True) if count is not None else ({}, False)
    if op in REDUCTION_OPS:
        count = _num(ins[0]) if ins else None
        return ({"other": count}, True) if count is not None else ({}, False)
    return {}, True


def classify(op: str) -> str:
    """'counted', 'free' (no arithmetic by nature) or 'uncounted' for an op type."""
    op = canonical_op_type(op)
    if (op in MATMUL_CONV_OPS or op in FUSED_OPS or op in ELEMENTWISE_OPS or op in WINDOW_OPS
            or op in REDUCTION_OPS):
        return "counted"
    if op in NO_ARITHMETIC_OPS or graphs.is_leftover_op(op):
        return "free"
    return "uncounted"
