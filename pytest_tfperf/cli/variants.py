"""`tfperf variants MODEL [--image PATH] [--preprocess P] [--dataset PATH] [--json]`: seed 002's
table, built and timed here."""
from __future__ import annotations

import argparse

from pytest_tfperf.cli._common import add_model_args, dumps_json, load_model_from_args

HELP = "every way to run a model (source, graphs, TFLite fp32/fp16/dynamic/int8), timed side by side"
DESCRIPTION = """\
Build every variant of a model and time them interleaved in this process (round-robin blocks,
so load from other processes hits every variant alike):
  - the source: Keras predict and model(x), or the SavedModel signature;
  - the frozen graph, the optimized graph (tfperf optimize's pipeline), and the graph with
    TensorFlow's quantize_weights transform;
  - TFLite fp32, fp16, dynamic-range and full-integer int8 (calibrated on variants of the
    sample image), run by the LiteRT interpreter with XNNPACK.
Columns: median ms, speed-up vs the source and vs the frozen graph, size, max abs error and
top-1 agreement vs the source, and for int8 the layers with the largest quantization error.
A variant that cannot be built is listed with its error. --json prints {"variants": [...]}."""


def register(subparsers) -> None:
    """Add the `variants` subparser."""
    p = subparsers.add_parser("variants", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p, json_help='print {"variants": [{variant, median_ms, size_bytes, '
                                'max_abs_err, ...}], ...} as JSON')
    p.add_argument("--image", help="sample image path (default: a synthetic image)")
    p.add_argument("--preprocess", default="auto",
                   help="preprocess preset for the sample image, given or synthetic, and the "
                        "dataset's images (auto: the range the model expects, else [0,1]; none, "
                        "unit, tf, caffe, torch, scale=S,offset=O; default auto)")
    p.add_argument("--dataset", metavar="PATH",
                   help="judge errors and top-1 agreement over a folder of images or an "
                        ".npy / .npz (first axis = one input each) instead of the one image")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (default 5)")
    p.add_argument("--threads", type=int, default=1, help="TFLite interpreter threads (default 1)")
    p.add_argument("--no-xnnpack", action="store_true",
                   help="run TFLite with the builtin kernels only (no XNNPACK delegate)")
    p.add_argument("--rows", metavar="NAMES",
                   help="comma-separated subset of rows, e.g. 'frozen graph,tflite int8'")


def run(args) -> int:
    """Print the table (text, or `VariantTable.to_dict()` as JSON); returns 0."""
    import shutil

    from pytest_tfperf.edge.variants import variants
    from pytest_tfperf.inputs.images import sample_feed
    from pytest_tfperf.report.variants_text import render_variants

    model = load_model_from_args(args)
    # the image fitted to the model (and the input policy's arrays for any other input): a
    # SampleInputs, so the table says which dims tfperf chose (dynamic H/W pinned to 224)
    feed = sample_feed(model, args.image, preprocess=args.preprocess)  # --preprocess applies to
    # the synthetic image too (issue 21)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()] if args.rows else None
    table = variants(model, feed, rows=rows, rounds=args.rounds, tflite_threads=args.threads,
                     use_xnnpack=not args.no_xnnpack,
                     input_label=f"image {args.image}" if args.image else
                     ("synthetic sample image" if "sample image" in feed.sources.values() else
                      "synthetic"),
                     dataset=args.dataset, preprocess=args.preprocess)
    print(dumps_json(table.to_dict()) if args.json else
          render_variants(table, width=shutil.get_terminal_size().columns))
    return 0
