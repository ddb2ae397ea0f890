"""The explorer page: its numbers, its self-containment, and (where Chromium is installed) a real browser."""
import base64
import importlib.util
import json
import os
import re
import shutil

import numpy as np
import pytest

from npembed.study import explorer
from npembed.wordvectors import projector

CHROMIUM = os.environ.get("NPEMBED_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def snapshots_of_moving_words(rng, count=4, n=60, dim=6):
    """Random starting vectors that drift toward final ones: neighbours change from first to last."""
    start, end = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    return np.stack([(1 - t) * start + t * end for t in np.linspace(0, 1, count)]).astype(np.float32)


def words_for(n):
    return ["beautiful"] + [f"w{i}" for i in range(1, n)]


def decode(text, shape):
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shape)


def test_page_data_projects_every_snapshot_on_the_last_ones_axes(rng):
    snapshots = snapshots_of_moving_words(rng)
    data = explorer.page_data(snapshots, words_for(60), counts=np.arange(60))
    coordinates = decode(data["coordinates"], (4, 60, 2))
    last = snapshots[-1].astype(np.float64)
    centred = last - last.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    # the last snapshot's coordinates are its two principal components (up to sign)
    np.testing.assert_allclose(np.abs(coordinates[-1]), np.abs(centred @ components[:2].T), rtol=1e-4, atol=1e-5)
    # earlier snapshots use the same centre and axes: differences of coordinates are projected differences
    moved = (snapshots[0] - snapshots[-1]).astype(np.float64)
    np.testing.assert_allclose(np.abs(np.linalg.norm(coordinates[0] - coordinates[-1], axis=1)),
                               np.linalg.norm(moved @ components[:2].T, axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(decode(data["vectors"], snapshots.shape), snapshots)     # exact float32
    assert data["score_label"] == "distance moved" and data["epochs"] == [0, 1, 2, 3]


@pytest.mark.parametrize("bad, message", [
    (dict(snapshots=np.zeros((2, 5))), "snapshots must be"),
    (dict(words=["a", "b"]), "must pair up"),
    (dict(epochs=[0, 1]), "4 snapshots but 2 epochs"),
    (dict(counts=np.ones(3)), "counts has 3 entries"),
    (dict(scores=np.ones(7)), "scores"),
    (dict(snapshots=np.zeros((1, 10_001, 2)), words=[f"w{i}" for i in range(10_001)]), "at most 10,000 words"),
])
def test_page_data_rejects_mismatched_inputs(rng, bad, message):
    arguments = dict(snapshots=snapshots_of_moving_words(rng, n=10), words=words_for(10))
    arguments.update(bad)
    with pytest.raises(ValueError, match=message):
        explorer.page_data(**arguments)


def test_nan_snapshots_are_refused(rng):
    snapshots = snapshots_of_moving_words(rng, n=10)
    snapshots[1, 3, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        explorer.page_data(snapshots, words_for(10))


def test_the_page_is_one_self_contained_file(rng, tmp_path):
    words = words_for(60)
    words[5] = "</script><b>"                                    # hostile tokens stay data
    words[6] = "{{glue}}"
    path = explorer.write_html(snapshots_of_moving_words(rng), words, tmp_path / "explorer.html",
                               scores=rng.normal(size=60), counts=np.arange(60))
    page = path.read_text(encoding="utf-8")
    assert page.count("</script>") == 3                          # plotly, the data, the glue
    # nothing is fetched: no external script, style, image or frame
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=", page, re.IGNORECASE)
    data = json.loads(page.split("const DATA = ", 1)[1].split(";</script>", 1)[0].replace("<\\/", "</"))
    assert data["words"][5:7] == ["</script><b>", "{{glue}}"]
    assert path.stat().st_size < 10 * 2**20


def test_top_rows_are_the_most_frequent_from_first():
    counts = np.array([100, 0, 5, 50, 0, 7, 50])
    assert explorer.top_rows(counts, top=3, first=2).tolist() == [3, 6, 5]
    assert explorer.top_rows(counts, top=10, first=1).tolist() == [3, 6, 5, 2]   # no row of count 0


def browser_or_skip():
    """playwright's sync API and the Chromium to drive; skips (fails under .ci/run) without them."""
    missing = None
    if CHROMIUM is None:
        missing = "no Chromium here (Debian: apt-get install chromium); .ci/run installs it"
    elif importlib.util.find_spec("playwright") is None:
        missing = "playwright is not installed (pip install playwright)"
    if missing and os.environ.get("NPEMBED_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NPEMBED_REQUIRE_BROWSER=1 but {missing}")
    if missing:
        pytest.skip(missing)
    from playwright import sync_api
    return sync_api


def test_the_page_in_a_real_browser(rng, tmp_path):
    sync_api = browser_or_skip()
    snapshots = snapshots_of_moving_words(rng)
    words = words_for(60)
    path = explorer.write_html(snapshots, words, tmp_path / "explorer.html", counts=np.arange(60) + 1)
    errors, requests = [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(path.as_uri())
        page.wait_for_selector("#map .main-svg")
        page.fill("#search", "beautiful")
        page.press("#search", "Enter")

        def shown_neighbours(snapshot):
            page.eval_on_selector("#epoch", "(slider, value) => { slider.value = value; "
                                  "slider.dispatchEvent(new Event('input')); }", str(snapshot))
            assert page.inner_text("#epoch-label").startswith(f"epoch {snapshot} ")
            return page.eval_on_selector_all("#neighbors li", "items => items.map(item => item.dataset.word)")

        first, last = shown_neighbours(0), shown_neighbours(len(snapshots) - 1)
        for snapshot, shown in ((0, first), (len(snapshots) - 1, last)):
            expected = [w for w, _ in projector.nearest_neighbors(snapshots[snapshot], words, "beautiful", 8)]
            assert shown == expected
        assert first != last
        page.click("#play")
        page.wait_for_timeout(900)
        assert page.inner_text("#play") in ("Pause", "Play")
        page.fill("#search", "nonsense")
        page.press("#search", "Enter")
        assert "not among the 60 words" in page.inner_text("#message")
        page.screenshot(path=str(tmp_path / "explorer.png"))
        browser.close()
    assert errors == []
    assert all(url.startswith(("file:", "data:", "blob:", "about:")) for url in requests), requests
    assert (tmp_path / "explorer.png").stat().st_size > 10_000
