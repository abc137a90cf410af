"""Markdown and HTML reports; the HTML page is opened in a real headless browser when one exists."""
from __future__ import annotations

import dataclasses
import datetime as _dt
import html as html_lib
import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import numpy as np
import pytest
from report_data import LONG_ID, make_results

from pytest_tfperf.atomic import write_text
from pytest_tfperf.report import html, markdown
from pytest_tfperf.wording import format_ms

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(text: str) -> list[tuple[str, dict]]:
    p = _Collect()
    p.feed(text)
    return p.tags


def test_markdown_tables():
    md = markdown.render(make_results())
    assert "### Latency" in md and "### Models" in md and "### Equivalence" in md
    assert "### Budget failures" in md and "tests/test_vgg.py::test_vgg16" in md
    row = next(line for line in md.splitlines() if LONG_ID in line)
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    st = make_results().measurements[0].stats
    assert cells[3] == format_ms(st["median_ms"]) and cells[4] == "~" + format_ms(st["p90_ms"])  # n=60: p90 rough
    assert cells[8] == "p50≤100ms" and cells[10] == "✅ ok"
    assert "~ rough: fewer than 10 of the n samples lie beyond that percentile" in md
    assert "| alexnet.pb | 62.38M | 1.43G | 249.6 MB | 57 | ✅ ok |" in md  # MB = 10^6 bytes
    assert "logits_layer/BiasAdd:0" in md
    # every table row has as many cells as its header
    for block in re.findall(r"(?:^\|.*\|\n)+", md, flags=re.MULTILINE):
        counts = {len(re.split(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(counts) == 1, block


def test_markdown_escapes_pipes_in_cells():
    r = make_results()
    r.records["measurement"][0] = dataclasses.replace(r.records["measurement"][0], model="a|b")
    assert "a\\|b" in markdown.render(r)


def test_html_is_self_contained_with_plots_and_tables():
    page = html.render(make_results())
    tags = _tags(page)
    names = [t for t, _ in tags]
    assert names.count("svg") == 3  # 2 latency distributions + 1 model chart
    assert names.count("table") == 4  # budgets, latency, models, equivalence
    assert "script" not in names and "link" not in names
    assert not re.search(r"(src|href)=\"https?:", page)  # nothing loaded from the network
    assert sum(1 for t, a in tags if t == "line" and a.get("class") == "median") == 2
    # alexnet's 100 ms budget is within its plot's range; vgg's 100 ms is far below 250 ms
    assert sum(1 for t, a in tags if t == "line" and a.get("class") == "budget") == 1
    assert "budget 100.0 ms (off scale)" in page
    assert sum(1 for t, a in tags if t == "rect" and a.get("class") == "bar") == 6


def test_html_escapes_text():
    r = make_results()
    r.records["measurement"][0] = dataclasses.replace(r.records["measurement"][0],
                                                      test_id="t.py::test_<script>")
    page = html.render(r)
    assert "<script>" not in page and "&lt;script&gt;" in page


def _png_pixels(path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def _with_every_budget_kind():
    """make_results() plus a model record with FLOP, size and memory budgets (one failing), built
    by the real budget checks, and the run facts the plugin records."""
    from pytest_tfperf.plugin.budgets import check_flops, check_memory, check_size
    from pytest_tfperf.plugin.markers import FlopsBudget, MemoryBudget, SizeBudget

    r = make_results()
    r.add("model", {"test_id": "tests/test_vgg.py::test_vgg16_fits", "model": "vgg16.pb", "flops": 15_500_000_000,
                    "summary": {"weight_params": 138_357_544},
                    "verdicts": [check_flops(FlopsBudget(16_000_000_000), 15_500_000_000, "vgg16.pb").to_dict(),
                                 check_size(SizeBudget(500.0), 553_400_000, "vgg16.pb").to_dict(),
                                 check_memory(MemoryBudget(64.0), 12_300_000, "vgg16.pb").to_dict()]})
    r.environment.update(started="2026-12-02T16:44:36+00:00",
                         command="pytest tests --tfperf-html report.html -k 'vgg or alexnet'")
    return r


def test_html_header_has_time_stamp_command_line_and_pass_fail_summary():
    page = html.render(_with_every_budget_kind())
    assert "run started 2026-12-02 16:44:36 UTC" in page
    assert "command: <code>pytest tests --tfperf-html report.html -k &#x27;vgg or alexnet&#x27;</code>" in page
    # 6 budgets: alexnet latency (ok), vgg FPS (fails), alexnet params, vgg FLOPs, size (fails), memory
    summary = re.search(r'<p class="summary (\w+)" id="summary">(.*?)</p>', page)
    assert summary.group(1) == "FAIL"
    assert summary.group(2) == ("FAIL: 2 of 6 budgets failed · 1 equivalence checks passed · "
                                "4 tests with tfperf results")
    ok = make_results()
    ok.records["measurement"].pop()  # without the slow VGG measurement every budget passes
    assert 'class="summary ok" id="summary">PASS: all 2 budgets passed' in html.render(ok)


def test_html_budgets_table_has_every_budget_kind_with_limit_and_measured_value():
    page = html.render(_with_every_budget_kind())
    table = page.split('<table class="budgets">', 1)[1].split("</table>", 1)[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)][1:]
    by_kind = {row[2]: [re.sub("<wbr>", "", c) for c in row] for row in rows}
    assert set(by_kind) == {"latency p50", "parameters", "FLOPs", "size", "peak memory"}
    assert len(rows) == 6  # two latency p50 budgets
    assert by_kind["parameters"][3:] == ["≤ 70.00M params", "62.38M params", "10.9%", "ok"]  # headroom left
    assert by_kind["FLOPs"][0] == "tests/test_vgg.py::test_vgg16_fits"
    assert by_kind["FLOPs"][3:] == ["≤ 16.00G FLOPs", "15.50G FLOPs", "3.1%", "ok"]
    assert by_kind["size"][3:] == ["≤ 500.0 MB", "553.4 MB", "10.7% over", "FAIL"]
    assert by_kind["peak memory"][3:] == ["≤ 64.0 MB", "12.3 MB", "80.8%", "ok"]
    latency = [row for row in rows if row[2] == "latency p50"]
    assert [row[3] for row in latency] == ["≤ 100.0 ms", "≤ 100.0 ms"]  # 10 FPS at batch 1 = 100 ms
    st = make_results().measurements[1].stats
    assert latency[1][4] == f"{format_ms(st['median_ms'])} ms" and latency[1][6] == "FAIL"


def _svg_texts(svg: str) -> dict[str, tuple[float, str]]:
    return {m.group(1): (float(m.group(2)), m.group(3)) for m in
            re.finditer(r'<text class="([\w-]+)" x="[\d.]+" y="([\d.]+)"[^>]*>([^<]*)</text>', svg)}


def test_histogram_marks_the_gated_percentile_labels_axes_and_keeps_labels_off_the_bars():
    from report_data import samples

    from pytest_tfperf.report.html import latency_svg

    xs = samples(40.0, n=60, spread=0.1)
    p90 = float(np.percentile(xs, 90))
    svg = latency_svg(xs, float(np.median(xs)), 50.0, gated=("p90", p90), batch=4)
    texts = _svg_texts(svg)
    assert texts["gated-label"][1] == f"p90 {format_ms(p90)} ms (gated)"
    assert texts["median-label"][1].startswith("median ") and texts["budget-label"][1] == "budget 50.0 ms"
    gated_x = float(re.search(r'<line class="gated" x1="([\d.]+)"', svg).group(1))
    median_x = float(re.search(r'<line class="median" x1="([\d.]+)"', svg).group(1))
    budget_x = float(re.search(r'<line class="budget" x1="([\d.]+)"', svg).group(1))
    assert median_x < gated_x < budget_x  # median ~40 < p90 ~45 < 50: each line at its value
    assert "ms per run, batch 4" in svg and ">runs</text>" in svg
    bars_top = min(float(y) for y in re.findall(r'<rect class="bin" x="[\d.]+" y="([\d.]+)"', svg))
    for kind in ("gated-label", "median-label", "budget-label"):
        assert texts[kind][0] < bars_top - 2, kind  # baseline above the tallest bar: off the bars
    # a p50 budget gates the median itself: one line, said so on its label
    p50 = latency_svg(xs, float(np.median(xs)), 50.0, gated=("p50", float(np.median(xs))))
    assert 'class="gated"' not in p50 and f"median {format_ms(np.median(xs))} ms (gated)" in p50


def test_ids_break_only_between_their_parts():
    page = html.render(make_results())
    assert "overflow-wrap:anywhere;max-width" not in page and "word-break:break-all" not in page
    cell = re.search(r"<td>(tests/<wbr>test_models_with[^<]*(?:<wbr>[^<]*)*)</td>", page).group(1)
    assert cell.split("<wbr>") == ["tests/", "test_models_with_a_rather_long_module_name.py::",
                                   "test_alexnet_is_realtime_enough_for_face_recognition[",
                                   "batch1-float32]"]


# what the browser lays out: label boxes that overlap a bar, id cells broken inside a word
LAYOUT_PROBE = r"""<script>
const out = {overlaps: [], crossed: [], midword: [], ids: 0};
const hit = (b, r) => b.left < r.right && b.right > r.left && b.top < r.bottom && b.bottom > r.top;
for (const svg of document.querySelectorAll("svg.latency")) {
  const bars = [...svg.querySelectorAll("rect.bin")].map(r => r.getBoundingClientRect());
  const lines = [...svg.querySelectorAll("line.median, line.gated, line.budget, line.connector")];
  for (const t of svg.querySelectorAll("text[class$='-label'], text.budget, text.overflow")) {
    const b = t.getBoundingClientRect();
    if (bars.some(r => hit(b, r))) out.overlaps.push(t.textContent);
    for (const l of lines) {
      if (l.getAttribute("stroke") === t.getAttribute("fill")) continue;  // its own line
      const r = l.getBoundingClientRect();
      if (hit(b, {left: r.left - 0.5, right: r.right + 0.5, top: r.top, bottom: r.bottom}))
        out.crossed.push(t.textContent);
    }
  }
}
for (const el of document.querySelectorAll("td:first-child, .plot h3")) {
  out.ids++;
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let prevTop = null, prev = "", node;
  while ((node = walker.nextNode())) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i); range.setEnd(node, i + 1);
      const rects = range.getClientRects();
      if (!rects.length) continue;
      if (prevTop !== null && rects[0].top > prevTop + 2 && !/[:\/\[,\s-]/.test(prev))
        out.midword.push(el.textContent);
      prevTop = rects[0].top; prev = node.data[i];
    }
  }
}
document.body.setAttribute("data-layout", JSON.stringify(out));
</script>"""


@pytest.mark.skipif(BROWSER is None, reason="no chromium installed (apt-get install -y chromium)")
def test_html_in_headless_browser(tmp_path):
    text = html.render(_with_every_budget_kind())
    page = write_text(tmp_path / "report.html", text)
    flags = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400"]
    # plus a close call: the budget's line 3 ms right of the median, where a label put on the
    # wrong side would be crossed by it
    from report_data import samples

    xs = samples(90.0, n=60, spread=0.05)
    close = html.latency_svg(xs, float(np.median(xs)), 93.0, gated=("p50", float(np.median(xs))))
    probe = write_text(tmp_path / "probe.html", text.replace("</body>", close + LAYOUT_PROBE + "</body>"))
    dom = subprocess.run(flags + ["--dump-dom", probe.as_uri()], check=False, capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    tags = [t for t, _ in _tags(dom.stdout)]
    assert tags.count("table") == 4 and tags.count("svg") == 3 + 1  # + the close call
    assert "vgg16.pb" in dom.stdout and "Latency distributions" in dom.stdout and "Budgets" in dom.stdout
    layout = json.loads(html_lib.unescape(re.search(r'data-layout="([^"]*)"', dom.stdout).group(1)))
    assert layout["ids"] >= 8 and layout["overlaps"] == [] and layout["midword"] == [], layout
    assert layout["crossed"] == [], layout  # no label is crossed by another mark's line
    shot = tmp_path / "report.png"
    proc = subprocess.run(flags + [f"--screenshot={shot}", page.as_uri()],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    width, height, raw = _png_pixels(shot)
    assert (width, height) == (1280, 2400)
    assert len(set(raw)) > 50  # text, bars and lines drawn: far from a blank page


def test_plugin_records_run_time_and_command_line_for_the_reports(pytester):
    pytester.makepyfile(test_x="""
        def test_fast(tfperf):
            tfperf.measure(lambda: None, name="noop", min_runs=5, min_time=0.01, max_time=0.05, warmup=1)
    """)
    before = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    result = pytester.runpytest("-p", "no:cacheprovider", "--tfperf-html", "r.html", "--tfperf-json",
                                "r.json", "-k", "fast or slow")
    result.assert_outcomes(passed=1)
    env = json.loads((pytester.path / "r.json").read_text())["tfperf"]["environment"]
    assert env["command"].startswith("pytest -p no:cacheprovider --tfperf-html r.html --tfperf-json "
                                     "r.json -k 'fast or slow'")  # (pytester adds --basetemp)
    started = _dt.datetime.fromisoformat(env["started"])
    assert before <= started <= _dt.datetime.now(_dt.timezone.utc)
    page = (pytester.path / "r.html").read_text()
    assert f"run started {started:%Y-%m-%d %H:%M:%S} UTC" in page
    assert "command: <code>pytest -p no:cacheprovider --tfperf-html r.html" in page
