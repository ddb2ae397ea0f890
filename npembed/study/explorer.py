"""One self-contained HTML page where the words move: an embedding's snapshots, epoch by epoch.

    explorer.write_html(snapshots, words, "explorer.html", scores=..., counts=...)

The page holds everything inline (plotly.js, the numbers, the glue script below), so it opens from
disk with no network. Every snapshot is projected on the same axes, the last snapshot's two
principal components (centred on its mean), so that movement on the page is movement of the
vectors. Vectors and coordinates travel as base64 float32: the page computes its nearest
neighbours (cosine, all dimensions) from exactly the numbers npembed holds.

On the page: a slider and a play button over the snapshots, colour by score, hover for word,
frequency and score, a search box that highlights a word and lists its nearest neighbours at the
selected snapshot, and a click on a word that draws its path across all snapshots.
"""
import base64
import html
import json
import re

import numpy as np

from .. import _checks
from . import analysis
from ..atomic import atomic_write

TOP_WORDS = 500
TOPN = 8
MAX_WORDS = 10_000            # a page is for looking: more dots than this only make it heavy and slow


def _base64_float32(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def page_data(snapshots, words, scores=None, counts=None, epochs=None, score_label="score"):
    """The numbers the page shows, as a JSON-ready dict; see write_html for the arguments."""
    snapshots = np.asarray(snapshots)
    if snapshots.ndim != 3 or snapshots.shape[0] < 1 or snapshots.shape[1] < 3 or snapshots.shape[2] < 2:
        raise ValueError("snapshots must be (snapshots, words, dim) with at least 3 words and 2 dimensions, "
                         f"got shape {snapshots.shape}")
    snapshots = _checks.float_array("snapshots", snapshots, np.float32)
    count, n, dim = snapshots.shape
    if n > MAX_WORDS:
        raise ValueError(f"the explorer shows at most {MAX_WORDS:,} words, got snapshots of {n:,}: pass the "
                         "most frequent ones (explorer.top_rows)")
    words = [str(word) for word in words]
    if len(words) != n:
        raise ValueError(f"{n} rows per snapshot but {len(words)} words: they must pair up row by row")
    epochs = list(range(count)) if epochs is None else [int(e) for e in epochs]
    if len(epochs) != count:
        raise ValueError(f"{count} snapshots but {len(epochs)} epochs")
    if scores is None:                             # how far each word has moved from the start
        scores, score_label = [analysis.movement([snapshots[0], table]) for table in snapshots], "distance moved"
    scores = _checks.float_array("scores", scores, np.float32)
    if scores.shape not in ((n,), (count, n)):
        raise ValueError(f"scores must have shape ({n},) or ({count}, {n}), got {scores.shape}")
    scores = np.broadcast_to(scores, (count, n))
    counts = np.zeros(n) if counts is None else _checks.float_array("counts", counts, np.float64, ndim=1)
    if len(counts) != n:
        raise ValueError(f"counts has {len(counts)} entries for {n} words")
    _, components, _ = analysis.pca(snapshots[-1], 2)
    centre = snapshots[-1].astype(np.float64).mean(axis=0)
    coordinates = np.stack([(table - centre) @ components.T for table in snapshots])     # (count, n, 2)
    return {"words": words, "epochs": epochs, "dim": dim, "counts": counts.astype(int).tolist(),
            "score_label": score_label, "scores": _base64_float32(scores),
            "coordinates": _base64_float32(coordinates), "vectors": _base64_float32(snapshots), "topn": TOPN}


def write_html(snapshots, words, path, scores=None, counts=None, epochs=None, score_label="score",
               title="npembed: the embedding, epoch by epoch"):
    """Write the explorer page for snapshots (snapshots, words, dim) of the rows named by words.

    scores: colour, (words,) or (snapshots, words) (default: distance moved from the first snapshot);
    counts: (words,) frequencies shown on hover; epochs: the label of each snapshot (default 0, 1, ...).
    Returns path. Pass the words to show (e.g. the 500 most frequent), not the whole vocabulary.
    """
    from plotly.offline import get_plotlyjs            # only the page needs plotly, not training
    data = page_data(snapshots, words, scores, counts, epochs, score_label)
    payload = json.dumps(data).replace("</", "<\\/")    # no "</script>" can end the script early
    parts = {"title": html.escape(title), "plotly": get_plotlyjs(), "data": payload, "glue": GLUE}
    # one pass over the template: what is put in (a word "{{glue}}", plotly's source) is never rescanned
    page = re.sub(r"\{\{(\w+)\}\}", lambda match: parts[match.group(1)], PAGE)
    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(page)
    return path


def sentiment_scores(model, tables):
    """Each snapshot row's score along the trained model's sentiment direction: (snapshots, words)."""
    tables = np.asarray(tables)
    return tables @ analysis.sentiment_direction(model).astype(tables.dtype)


def write_sentiment_html(model, tables, words, path, counts=None, epochs=None):
    """write_html for a sentiment classifier's snapshots tables (snapshots, words, dim), coloured by
    sentiment_scores."""
    return write_html(tables, words, path, scores=sentiment_scores(model, tables), counts=counts,
                      epochs=epochs, score_label="sentiment")


def top_rows(counts, top=TOP_WORDS, first=0):
    """Ids of the `top` most frequent rows at or after `first` (counts (rows,)), most frequent first."""
    counts = np.asarray(counts)
    order = np.argsort(-counts[first:], kind="stable")[:top] + first
    return order[counts[order] > 0]


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 12px; color: #222; }
#controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
#layout { display: flex; gap: 16px; }
#map { width: 900px; height: 680px; }
#side { width: 260px; }
#neighbors li { font-family: monospace; }
</style></head>
<body>
<h2>{{title}}</h2>
<div id="controls">
  <button id="play">Play</button>
  <input id="epoch" type="range" min="0" max="0" step="1" value="0" style="width:380px">
  <span id="epoch-label"></span>
  <input id="search" type="search" placeholder="find a word, then Enter" size="24">
  <span id="message"></span>
</div>
<div id="layout"><div id="map"></div>
<div id="side"><h3 id="neighbors-title">Nearest neighbours</h3><ol id="neighbors"></ol>
<p>Hover a dot for its word; click one to draw its path over every epoch. Neighbours are by cosine
over all dimensions, among the words on this page.</p></div></div>
<script>{{plotly}}</script>
<script>const DATA = {{data}};</script>
<script>{{glue}}</script>
</body></html>
"""

GLUE = r"""
"use strict";
function floats(text) {
  const bytes = Uint8Array.from(atob(text), c => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}
const words = DATA.words, n = words.length, dim = DATA.dim, epochs = DATA.epochs;
const coordinates = floats(DATA.coordinates), vectors = floats(DATA.vectors), scores = floats(DATA.scores);
const index = new Map(words.map((w, i) => [w, i]));
let current = epochs.length - 1, selected = null, traced = null, timer = null;

function xy(s) {
  const x = new Array(n), y = new Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = coordinates[(s * n + i) * 2];
    y[i] = coordinates[(s * n + i) * 2 + 1];
  }
  return [x, y];
}
function scoreAt(s) { return Array.from(scores.subarray(s * n, (s + 1) * n)); }
// cosine similarity of word q to every word at snapshot s, as npembed.projector.most_similar
function neighbours(q, s, topn) {
  const base = s * n * dim, norm = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let t = 0;
    for (let d = 0; d < dim; d++) { const v = vectors[base + i * dim + d]; t += v * v; }
    norm[i] = Math.sqrt(t) || 1;
  }
  const query = new Float64Array(dim);
  for (let d = 0; d < dim; d++) query[d] = vectors[base + q * dim + d] / norm[q];
  let length = 0;
  for (let d = 0; d < dim; d++) length += query[d] * query[d];
  length = Math.sqrt(length) || 1;
  const similarity = [];
  for (let i = 0; i < n; i++) {
    if (i === q) continue;
    let t = 0;
    for (let d = 0; d < dim; d++) t += (vectors[base + i * dim + d] / norm[i]) * (query[d] / length);
    similarity.push([t, i]);
  }
  similarity.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return similarity.slice(0, topn);
}
function hover(s) {
  const sc = scoreAt(s);
  return words.map((w, i) => `${w}<br>count ${DATA.counts[i]}<br>${DATA.score_label} ${sc[i].toFixed(3)}`);
}
function traces(s, near) {
  const [x, y] = xy(s), sc = scoreAt(s);
  let limit = 0;
  for (let k = 0; k < scores.length; k++) limit = Math.max(limit, Math.abs(scores[k]));
  const all = {x: x, y: y, mode: "markers", type: "scattergl", text: hover(s), hoverinfo: "text",
    marker: {color: sc, colorscale: "RdBu", cmin: -limit || -1, cmax: limit || 1,
             size: 7, colorbar: {title: DATA.score_label}}, name: "words"};
  const marked = selected === null ? [] : [selected, ...near.map(p => p[1])];
  const labels = {x: marked.map(i => x[i]), y: marked.map(i => y[i]), text: marked.map(i => words[i]),
    mode: "markers+text", type: "scatter", textposition: "top center", hoverinfo: "skip",
    marker: {size: marked.map((_, k) => k === 0 ? 14 : 9), color: "rgba(0,0,0,0)",
             line: {width: 2, color: marked.map((_, k) => k === 0 ? "black" : "gray")}}, name: "search"};
  const path = {x: [], y: [], mode: "lines+markers", type: "scatter", hoverinfo: "skip", name: "path",
                line: {color: "black", width: 1}, marker: {size: 4}};
  if (traced !== null) {
    for (let t = 0; t < epochs.length; t++) {
      const [px, py] = xy(t);
      path.x.push(px[traced]);
      path.y.push(py[traced]);
    }
  }
  return [all, labels, path];
}
function draw() {
  document.getElementById("epoch").value = current;
  const label = document.getElementById("epoch-label");
  label.textContent = `epoch ${epochs[current]} (${current + 1} of ${epochs.length})`;
  const near = selected === null ? [] : neighbours(selected, current, DATA.topn);   // once per draw
  Plotly.react("map", traces(current, near), layout, {responsive: false});
  const list = document.getElementById("neighbors");
  list.innerHTML = "";
  if (selected !== null) {
    const title = document.getElementById("neighbors-title");
    title.textContent = `Nearest to "${words[selected]}" at epoch ${epochs[current]}`;
    for (const [similarity, i] of near) {
      const item = document.createElement("li");
      item.dataset.word = words[i];
      item.textContent = `${words[i]} ${similarity.toFixed(3)}`;
      list.appendChild(item);
    }
  }
}
// the same axes for every snapshot: the range of all of them
const [lo, hi] = [[Infinity, Infinity], [-Infinity, -Infinity]];
for (let k = 0; k < coordinates.length; k++) {
  const a = k % 2;
  lo[a] = Math.min(lo[a], coordinates[k]);
  hi[a] = Math.max(hi[a], coordinates[k]);
}
const pad = a => 0.05 * (hi[a] - lo[a] || 1);
const layout = {xaxis: {range: [lo[0] - pad(0), hi[0] + pad(0)], title: "principal component 1 (last epoch)"},
                yaxis: {range: [lo[1] - pad(1), hi[1] + pad(1)], title: "principal component 2 (last epoch)"},
                margin: {l: 60, r: 20, t: 20, b: 50}, showlegend: false, hovermode: "closest"};
const slider = document.getElementById("epoch");
slider.max = epochs.length - 1;
slider.addEventListener("input", () => { current = Number(slider.value); draw(); });
document.getElementById("play").addEventListener("click", event => {
  if (timer !== null) { clearInterval(timer); timer = null; event.target.textContent = "Play"; return; }
  event.target.textContent = "Pause";
  if (current === epochs.length - 1) current = 0;
  timer = setInterval(() => {
    draw();
    if (current === epochs.length - 1) {
      clearInterval(timer);
      timer = null;
      event.target.textContent = "Play";
      return;
    }
    current += 1;
  }, 400);
});
document.getElementById("search").addEventListener("keydown", event => {
  if (event.key !== "Enter") return;
  const word = event.target.value.trim().toLowerCase(), message = document.getElementById("message");
  if (!index.has(word)) { message.textContent = `"${word}" is not among the ${n} words shown`; return; }
  message.textContent = "";
  selected = index.get(word);
  draw();
});
draw();
document.getElementById("map").on("plotly_click", event => {
  const point = event.points.find(p => p.curveNumber === 0);
  if (point) { traced = point.pointIndex; draw(); }
});
"""
