"""Markdown and HTML reports; the HTML page is opened in a real headless browser when one exists."""
from __future__ import annotations

import dataclasses
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import pytest
from test_report_data import LONG_ID, make_results

from pytest_tfperf.atomic import write_text
from pytest_tfperf.report import html, markdown

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
    st = make_results().measurements[0]["stats"]
    assert cells[3] == f"{st['median_ms']:.2f}" and cells[4] == f"~{st['p90_ms']:.2f}"  # n=60: p90 rough
    assert cells[8] == "p50≤100ms" and cells[10] == "✅ ok"
    assert "~ rough: fewer than 10 of the n samples lie beyond that percentile" in md
    assert "| alexnet.pb | 62.38M | 1.43G | 249.60 MB | 57 | ✅ ok |" in md
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
    assert names.count("table") == 3  # latency, models, equivalence
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


@pytest.mark.skipif(BROWSER is None, reason="no chromium installed (apt-get install -y chromium)")
def test_html_in_headless_browser(tmp_path):
    page = write_text(tmp_path / "report.html", html.render(make_results()))
    flags = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], check=False, capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    tags = [t for t, _ in _tags(dom.stdout)]
    assert tags.count("table") == 3 and tags.count("svg") == 3
    assert "vgg16.pb" in dom.stdout and "Latency distributions" in dom.stdout
    shot = tmp_path / "report.png"
    proc = subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1200,1400", page.as_uri()],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    width, height, raw = _png_pixels(shot)
    assert (width, height) == (1200, 1400)
    assert len(set(raw)) > 50  # text, bars and lines drawn: far from a blank page
