"""Per-op profile (benchmark_model's tables), peak memory, the text renderer and `tfperf bench`."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import pytest_tfperf
from pytest_tfperf import cli
from pytest_tfperf.model import zoo
from pytest_tfperf.errors import ConfigError
from pytest_tfperf.analysis.flops.count import canonical_op_type, count_flops
from pytest_tfperf.analysis.profiling import RunStat, peak_memory_bytes, profile
from pytest_tfperf.report.profile_text import human_readable_num, render_profile, stat_line

RUNS = 3


@pytest.fixture(scope="module")
def model():
    fg = pytest_tfperf.load(zoo.small_convnet_graph(input_size=32, channels=(8, 16),
                                                    fused_batch_norm=True))
    yield fg
    fg.close()


@pytest.fixture(scope="module")
def prof(model):
    return profile(model, runs=RUNS, top=5)


def _graph_ops(fg) -> list[str]:
    return [n.op for n in fg.graph_def.node]


def test_node_type_table_counts_match_the_graph(model, prof):
    by_type = {r.node_type: r for r in prof.node_types}
    ops = _graph_ops(model)
    # grappler may fuse Conv2D (+BiasAdd/FusedBatchNorm/Relu) into _FusedConv2D: count both
    convs = sum(by_type[t].count for t in ("Conv2D", "_FusedConv2D") if t in by_type)
    matmuls = sum(by_type[t].count for t in ("MatMul", "_FusedMatMul") if t in by_type)
    assert convs == ops.count("Conv2D") == 2
    assert matmuls == ops.count("MatMul") == 1
    assert by_type["MaxPool"].count == ops.count("MaxPool") == 2
    assert not any(t.startswith("_Mkl") for t in by_type)  # oneDNN kernels read as public ops
    for row in prof.node_types:
        assert row.times_called == row.count  # no loops: each node once per run
    assert sum(r.count for r in prof.node_types) == prof.nodes_observed


def test_node_type_percentages_and_cdf(prof):
    rows = prof.node_types
    assert sum(r.avg_percent for r in rows) == pytest.approx(100.0, abs=0.01)
    cdf = [r.cdf_percent for r in rows]
    assert cdf == sorted(cdf) and cdf[-1] == pytest.approx(100.0, abs=0.01)
    times = [r.avg_ms for r in rows]
    assert times == sorted(times, reverse=True)  # slowest type first
    assert any(r.mem_kb > 0 for r in rows if r.node_type in ("Conv2D", "_FusedConv2D"))


def test_top_nodes_timings_and_flops(model, prof):
    assert len(prof.top_nodes) == 5
    avgs = [r.avg_ms for r in prof.top_nodes]
    assert avgs == sorted(avgs, reverse=True)
    cdf = [r.cdf_percent for r in prof.top_nodes]
    assert cdf == sorted(cdf) and cdf[-1] <= 100.0 + 1e-6
    for stat in (prof.timings_us, prof.memory_bytes, prof.wall_us, prof.traced_wall_us):
        assert stat.count == RUNS and stat.min <= stat.avg <= stat.max
    assert prof.warmup_us.count == 2
    assert prof.flops == count_flops(model).total
    assert prof.flops_per_second == pytest.approx(prof.flops / (prof.wall_us.avg / 1e6))


def test_agrees_with_tensorflow_stat_summarizer(prof):
    if prof.raw_text is None:
        pytest.skip("this TensorFlow wheel has no _pywrap_stat_summarizer")
    text = prof.raw_text.split("Summary by node type", 1)[1]
    theirs = {}
    for line in text.splitlines()[2:]:
        cells = [c.strip() for c in line.split("\t") if c.strip()]
        if len(cells) != 7:
            break
        node_type, count, avg_ms, _, _, mem_kb, called = cells
        theirs[canonical_op_type(node_type)] = (int(count), float(avg_ms), float(mem_kb), int(called))
    ours = {r.node_type: r for r in prof.node_types}
    assert set(theirs) == set(ours)
    for node_type, (count, avg_ms, mem_kb, called) in theirs.items():
        row = ours[node_type]
        assert (row.count, row.times_called) == (count, called)
        assert row.avg_ms == pytest.approx(avg_ms, abs=0.0015)
        assert row.mem_kb == pytest.approx(mem_kb, abs=0.0015)
    assert f"Timings (microseconds): {stat_line(prof.timings_us.to_dict())}" in prof.raw_text


def test_peak_memory_is_bounded_by_the_allocations(model, prof):
    peak = peak_memory_bytes(model)
    largest_activation = 32 * 32 * 8 * 4  # conv_1 output, float32
    assert largest_activation <= peak <= prof.memory_bytes.max
    assert largest_activation <= prof.peak_memory_bytes <= prof.memory_bytes.max


def test_to_dict_is_plain_json(prof):
    data = json.loads(json.dumps(prof.to_dict()))
    assert data["runs"] == RUNS and data["node_types"][0]["node_type"] == prof.node_types[0].node_type
    assert data["flops_report"]["total"] == prof.flops
    assert data["timings_us"]["count"] == RUNS


def test_render_profile_reads_like_benchmark_model(prof):
    text = render_profile(prof.to_dict())
    lines = text.splitlines()
    header = ("\t                             [Node type]\t  [count]\t  [avg ms]\t    [avg %]"
              "\t    [cdf %]\t  [mem KB]\t[times called]")
    assert "============================== Summary by node type ==============================" in lines
    assert header in lines
    first = prof.node_types[0]
    row = re.compile(rf"^\t +{re.escape(first.node_type)}\t +{first.count}\t +{first.avg_ms:.3f}"
                     rf"\t +{first.avg_percent:.3f}%\t +{first.cdf_percent:.3f}%\t +[0-9.]+\t +\d+$")
    assert any(row.match(line) for line in lines)
    assert "============================== Top by Computation Time ==============================" in lines
    assert sum(line.endswith("\t" + r.name) for line in lines for r in prof.top_nodes) == 5
    assert f"Timings (microseconds): count={RUNS} " in text
    assert f"FLOPs estimate: {human_readable_num(prof.flops)}" in lines
    assert any(line.startswith("FLOPs/second: ") for line in lines)
    assert f"Peak memory (bytes): {prof.peak_memory_bytes}" in lines


def test_number_formats_match_tensorflow():
    assert human_readable_num(82_150_000) == "82.15M"
    assert human_readable_num(21_890_000_000) == "21.89B"
    assert human_readable_num(1_234) == "1.23k" and human_readable_num(999) == "999"
    seed = {"count": 1000, "first": 7287, "curr": 7567, "min": 7198, "max": 18864,
            "avg": 8794.03, "std": 1249}
    assert stat_line(seed) == "count=1000 first=7287 curr=7567 min=7198 max=18864 avg=8794.03 std=1249"
    same = RunStat.of([1224488] * 1000).to_dict()
    assert stat_line(same) == "count=1000 curr=1224488(all same)"
    stat = RunStat.of([1, 2, 3, 4])
    assert (stat.first, stat.curr, stat.min, stat.max, stat.avg, stat.std) == (1, 4, 1, 4, 2.5, 1)


def test_bad_arguments_are_config_errors(model):
    with pytest.raises(ConfigError, match="runs >= 1.*runs=0"):
        profile(model, runs=0)


def test_bench_command_prints_json_and_text(model, tmp_path, capsys):
    path = model.save(tmp_path / "small.pb")
    assert cli.main(["bench", str(path), "--json", "--runs", "2", "--top", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["runs"] == 2 and len(data["top_nodes"]) == 3
    assert {r["node_type"] for r in data["node_types"]} >= {"MaxPool"}
    assert data["flops"] == count_flops(model).total
    assert cli.main(["bench", str(path), "--runs", "1", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "Summary by node type" in out and "FLOPs estimate:" in out


def test_profile_accepts_explicit_inputs(model):
    p = profile(model, np.zeros((2, 32, 32, 3), np.float32), runs=1, top=0, flops=True)
    assert p.top_nodes == () and p.flops_report["batch"] == 2
