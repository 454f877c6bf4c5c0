"""The ImageNet networks of ``keras.applications`` in Chromium against a real server, with no internet.

Tests cannot download Keras's weights, so the weights are made here (``tests/imagenet_files.py``: each
network built with seeded random weights, written in Keras's published layout) and vouched for in a
checksums file the server reads (``$CNNLAB_WEIGHTS_CHECKSUMS``). The server's Keras cache is a folder of
the test's own (``$KERAS_HOME``), and its download address a closed port (``$CNNLAB_WEIGHTS_MIRROR``).

- MobileNetV3Small: its download fails and names the address; the import expander opens; a file cut
  short, another network's file renamed and MobileNetV3Small's weights with another seed (not vouched
  for) are each refused with their reason; the right file is taken, checked, and used.
- Every view on it: Activations, Filters, Step by step and Predict on a sample photo; Evaluation on the
  shapes dataset (whose classes are not ImageNet's: the page says so) and on a folder of "cat" and
  "dog" photos loaded through the Data page; Embedding on that folder.
- ResNet50 from a weights file put straight into the server's Keras cache: Activations and Predict.
- A server whose ``CNNLAB_MAX_IMAGENET_BYTES`` holds ResNet50 alone but not beside MobileNetV3Small
  refuses it once MobileNetV3Small is loaded, naming the limit.

After a refused file the uploader starts empty and the next file is checked too; a network refused for
memory is not offered in the sidebar's model list.

Each test makes its network current from the Models page itself, so they run in any order.
"""

from __future__ import annotations

import shutil

import pytest

from bench.app_server import AppServer
from browser import (MAIN, SIDEBAR, act, alerts, choose, clear_upload, exceptions, fill, go, main_text, open_app,
                     options, pick, prediction, select, shot, upload, wait_drawn, wait_text)

SMALL, RESNET, V2 = "mobilenet_v3_small", "resnet50", "mobilenet_v2"
FIRST_TF = 300  # seconds: the first TensorFlow work of a server on a slow, shared machine
UPLOADER = "Weights file (.h5)"


# --- the weights files, made once for the module ------------------------------------------------------------


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """The files a user would bring, and the checksums file that vouches for the right ones.

    ``good``: MobileNetV3Small's (vouched for); ``cut``: its first half; ``other_seed``: MobileNetV3Small's
    weights made with another seed (not vouched for); ``renamed``: MobileNetV2's file under MobileNetV3Small's
    name; ``resnet``: ResNet50's (vouched for).
    """
    from core.models.imagenet import NETWORKS
    from imagenet_files import md5, weights_file

    folder = tmp_path_factory.mktemp("imagenet_weights")
    small = NETWORKS[SMALL]
    files = {"good": weights_file(small, folder / "good"),
             "other_seed": weights_file(small, folder, seed=1, name="other_seed.h5"),
             "renamed": weights_file(NETWORKS[V2], folder / "renamed", name=small.file_name),
             "resnet": weights_file(NETWORKS[RESNET], folder / "resnet")}
    data = files["good"].read_bytes()
    files["cut"] = folder / "cut_short.h5"
    files["cut"].write_bytes(data[: len(data) // 2])
    listing = folder / "trusted-weights.md5"
    listing.write_text("".join(f"{md5(files[k])}  {NETWORKS[n].file_name}\n"
                               for k, n in (("good", SMALL), ("resnet", RESNET))), encoding="utf-8")
    return {**files, "checksums": listing, "md5": {k: md5(p) for k, p in files.items()}}


def start_server(folder, weights, cached: tuple[str, ...] = (), **env) -> AppServer:
    """A server with a Keras cache of its own (holding the ``cached`` networks' files), offline."""
    from core.models.imagenet import NETWORKS
    from download_fixtures import closed_port_url

    keras_home = folder / "keras"
    (keras_home / "models").mkdir(parents=True, exist_ok=True)
    for key in cached:
        shutil.copyfile(weights["good" if key == SMALL else "resnet"], keras_home / "models" / NETWORKS[key].file_name)
    server = AppServer(folder, extra_env={"KERAS_HOME": str(keras_home), "CNNLAB_WEIGHTS_MIRROR": closed_port_url(),
                                          "CNNLAB_WEIGHTS_CHECKSUMS": str(weights["checksums"]), **env})
    server.keras_models = keras_home / "models"
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    return server


@pytest.fixture(scope="module")
def net_server(tmp_path_factory, weights):
    """One server for the module: ResNet50's weights already in its Keras cache, MobileNetV3Small's not."""
    server = start_server(tmp_path_factory.mktemp("imagenet_server"), weights, cached=(RESNET,))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cat_dog_folder(tmp_path_factory):
    """``train/`` and ``test/`` folders of small tinted photos in classes named "cat" and "dog"."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("cat_dog")
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cat", "dog")):
        for split, n in (("train", 3), ("test", 4)):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (32, 32, 3)) * (1 + np.eye(3)[c]) / 2
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / name / f"{i}.png")
    return root


# --- helpers ------------------------------------------------------------------------------------------------


def models_page(page, url: str) -> None:
    open_app(page, url)
    go(page, "Models", "Models")
    page.locator(".st-key-models_net_pick").wait_for()


def pick_network(page, title: str) -> None:
    """Choose ``title`` in the Models page's "Network" select box."""
    from core.models.imagenet import NETWORKS

    net = next(n for n in NETWORKS.values() if n.title == title)
    box = page.locator(".st-key-models_net_pick")
    if box.locator("input").input_value().startswith(title):
        return
    listbox = page.locator('[role="listbox"]').last
    for attempt in range(3):  # a click that lands as the page draws again may only focus the box
        box.locator('[data-testid="stSelectbox"]').click()
        try:
            listbox.wait_for(timeout=10_000)
            break
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    act(page, listbox.get_by_role("option").filter(has_text=title).first.click)
    wait_text(page, f"{net.params:,} weights")  # the chosen network's caption


def button(page, key: str):
    return page.locator(f".st-key-{key} button").first


def use_network(page, title: str) -> None:
    """Press "Use it" for the network shown and wait for its loading to end (a success or an error)."""
    pick_network(page, title)
    use = button(page, "models_net_use")
    assert use.is_enabled(), f"Use it is disabled for {title}: {main_text(page)[:2000]}"
    act(page, use.click, timeout=FIRST_TF)
    page.wait_for_function("() => { const m = document.querySelector('[data-testid=\"stMain\"]').innerText;"
                           " return m.includes('is now the current model') || !!document.querySelector("
                           "'[data-testid=\"stMain\"] [data-testid=\"stAlertContentError\"]'); }",
                           timeout=FIRST_TF * 1000, polling=200)


def errors_text(page) -> str:
    return "\n".join(alerts(page, ("Error",)))


def clean(page, where: str) -> None:
    assert not exceptions(page), (where, exceptions(page))
    assert page.errors == [], (where, page.errors)


def images_drawn(page) -> int:
    """How many pictures the main area shows, every one of them loaded."""
    wait_drawn(page, timeout=120)
    return page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=\"stMain\"] "
                         "[data-testid=\"stImageContainer\"] img')).filter(i => i.complete && i.naturalWidth > 0)"
                         ".length")


def captioned_image(page, caption: str) -> dict:
    """The natural size of the main area's picture whose caption is ``caption`` (0×0 where it did not load)."""
    return page.evaluate(
        "c => { const box = Array.from(document.querySelectorAll('[data-testid=\"stMain\"] "
        "[data-testid=\"stImageContainer\"]')).find(b => {"
        " const t = b.querySelector('[data-testid=\"stImageCaption\"]'); return t && t.innerText.trim() === c; });"
        " const img = box && box.querySelector('img');"
        " return img ? {w: img.naturalWidth, h: img.naturalHeight} : null; }", caption)


def replace_upload(page, path) -> None:
    """Remove the file the uploader holds (its ×), then upload ``path``: two runs, as a user's two clicks.

    (A file dropped straight onto the uploader while it holds a refused one can be lost: see
    ``test_a_file_dropped_over_a_refused_one_is_checked``.)
    """
    clear_upload(page, UPLOADER)
    upload(page, UPLOADER, str(path))


def headings(page) -> list[str]:
    return [h.strip() for h in page.locator(MAIN).locator("h4").all_inner_texts()]


def sample_photo(page) -> None:
    """Choose the image source "Sample photo" (the first TensorFlow work of a page may follow: a long wait)."""
    page.locator(MAIN).get_by_text("Sample photo", exact=True).first.wait_for()
    if not _chosen(page, "Sample photo"):
        act(page, lambda: page.locator(MAIN).get_by_text("Sample photo", exact=True).first.click(), FIRST_TF)


def activations_on_a_photo(page, first_conv: str, artifacts, name: str) -> list[str]:
    go(page, "Activations", "Activations", FIRST_TF)
    sample_photo(page)
    page.locator(MAIN).locator("h4").filter(has_text=f"{first_conv} · Conv2D").first.wait_for(timeout=FIRST_TF * 1000)
    found = headings(page)
    assert any(h.startswith(f"{first_conv} · Conv2D · output") for h in found), found
    assert images_drawn(page) > 3
    clean(page, "Activations")
    shot(page, artifacts, name)
    return found


def _chosen(page, option: str) -> bool:
    radio = (page.locator(MAIN).locator("label").filter(has=page.get_by_text(option, exact=True))
             .locator('input[type="radio"]'))
    return bool(radio.count()) and radio.first.is_checked()


def predict_on_a_photo(page, artifacts, name: str) -> str:
    go(page, "Predict", "Predict", FIRST_TF)
    sample_photo(page)
    page.locator(MAIN).locator('[data-testid="stMetric"]').filter(has_text="Prediction").first.wait_for(
        timeout=FIRST_TF * 1000)
    top = prediction(page)
    assert top, main_text(page)[:2000]
    wait_text(page, "Why this class?", FIRST_TF)
    gradcam = captioned_image(page, "Grad-CAM")
    assert gradcam and gradcam["w"] > 100 and gradcam["h"] > 100, gradcam
    assert "last conv layer" in main_text(page)
    clean(page, "Predict")
    shot(page, artifacts, name)
    return top


# --- the tests ----------------------------------------------------------------------------------------------


def test_mobilenet_v3_small_weights_imported_in_chromium(net_server, weights, browser_page, artifacts):
    from core.models.imagenet import NETWORKS

    small = NETWORKS[SMALL]
    cached = net_server.keras_models / small.file_name
    cached.unlink(missing_ok=True)  # (another test of this module may have put it there)
    page = browser_page
    models_page(page, net_server.url)
    pick_network(page, "MobileNetV3Small")
    assert not button(page, "models_net_use").is_enabled()  # no weights yet

    # the download fails: the error names the address, and the import expander opens
    act(page, button(page, "models_net_download").click, timeout=120)
    wait_text(page, "Could not download MobileNetV3Small's ImageNet weights from")
    url = net_server.extra_env["CNNLAB_WEIGHTS_MIRROR"].rstrip("/") + "/" + small.file_name
    message = errors_text(page)
    assert url in message and "Without internet here, import the file below" in message, message
    expander = page.locator('[data-testid="stExpander"]').filter(has_text="No internet here? Import the weights file")
    assert expander.locator("summary").first.get_attribute("aria-expanded") == "true" or \
        expander.locator("details").first.evaluate("d => d.open")
    assert expander.locator('[data-testid="stFileUploader"]').filter(has_text=UPLOADER).first.is_visible()
    shot(page, artifacts, "imagenet_download_failed")

    refusals = {}
    # a file cut short
    upload(page, UPLOADER, str(weights["cut"]))
    wait_text(page, "Could not import cut_short.h5")
    refusals["cut"] = errors_text(page)
    assert "cut short or damaged" in refusals["cut"], refusals["cut"]
    # another network's file (MobileNetV2's, 14.6 MB) under MobileNetV3Small's name
    replace_upload(page, weights["renamed"])
    wait_text(page, f"Could not import {small.file_name}")
    refusals["renamed"] = errors_text(page)
    assert "far more than MobileNetV3Small's weights" in refusals["renamed"], refusals["renamed"]
    # MobileNetV3Small's weights, but not the ones vouched for
    replace_upload(page, weights["other_seed"])
    wait_text(page, "Could not import other_seed.h5")
    refusals["other_seed"] = errors_text(page)
    assert "is not MobileNetV3Small's ImageNet weights" in refusals["other_seed"], refusals["other_seed"]
    assert weights["md5"]["other_seed"] in refusals["other_seed"], refusals["other_seed"]
    assert weights["md5"]["good"] in refusals["other_seed"]  # the MD5 it expected, the teacher's
    shot(page, artifacts, "imagenet_import_refused")
    assert not cached.exists() and not button(page, "models_net_use").is_enabled()  # nothing refused was kept
    clean(page, "Models, refusals")

    # the right file
    replace_upload(page, weights["good"])
    wait_text(page, "weights are on this server now, checked")
    assert f"Imported {small.file_name}: MobileNetV3Small's weights are on this server now, checked." in \
        "\n".join(alerts(page, ("Success",)))
    from imagenet_files import md5

    assert md5(cached) == weights["md5"]["good"]
    shot(page, artifacts, "imagenet_imported")

    use_network(page, "MobileNetV3Small")
    assert "MobileNetV3Small is now the current model" in main_text(page), errors_text(page) or main_text(page)[:2000]
    clean(page, "Models, Use it")
    shot(page, artifacts, "imagenet_in_use")


def test_the_next_file_after_a_refused_one_is_checked(net_server, weights, browser_page, artifacts):
    """After a refused file the uploader starts empty (a new widget), so the next file dropped on it is
    uploaded and checked as the first was: no removal of the old file's chip runs in between, which in one
    layout made Streamlit's frontend drop the new upload."""
    from core.models.imagenet import NETWORKS

    (net_server.keras_models / NETWORKS[SMALL].file_name).unlink(missing_ok=True)
    page = browser_page
    models_page(page, net_server.url)
    pick_network(page, "MobileNetV3Small")
    expander = page.locator('[data-testid="stExpander"]').filter(has_text="No internet here? Import the weights file")
    expander.locator("summary").first.click()  # opened by hand: no download was tried in this session
    expander.locator('[data-testid="stFileUploader"]').first.wait_for(state="visible")
    upload(page, UPLOADER, str(weights["cut"]))
    wait_text(page, "Could not import cut_short.h5")
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=UPLOADER).first
    assert uploader.locator('[data-testid="stFileChip"]').count() == 0  # a fresh, empty uploader
    upload(page, UPLOADER, str(weights["other_seed"]))
    wait_text(page, "Could not import other_seed.h5")
    assert "is not MobileNetV3Small's ImageNet weights" in errors_text(page)
    clean(page, "Models, the next file after a refused one")


def ensure_weights(server, weights, key: str) -> None:
    """The network's vouched-for file in the server's Keras cache (the import test puts it there too)."""
    from core.models.imagenet import NETWORKS

    target = server.keras_models / NETWORKS[key].file_name
    if not target.exists():
        shutil.copyfile(weights["good" if key == SMALL else "resnet"], target)


def test_every_view_on_mobilenet_v3_small(net_server, weights, browser_page, cat_dog_folder, artifacts):
    ensure_weights(net_server, weights, SMALL)
    page = browser_page
    models_page(page, net_server.url)
    use_network(page, "MobileNetV3Small")
    assert "MobileNetV3Small is now the current model" in main_text(page), errors_text(page)

    activations_on_a_photo(page, "conv", artifacts, "imagenet_small_activations")

    go(page, "Filters", "Filters", FIRST_TF)
    wait_text(page, "16 filters of 3×3×3 weights", FIRST_TF)
    text = main_text(page)
    assert "conv: 16 filters of 3×3×3 weights" in text, text[:2000]
    assert "each filter is drawn as a small colour picture" in text  # the first layer sees the colour image
    sheet = captioned_image(page, "16 of 16 filters, strongest first")
    assert sheet and sheet["w"] > 50, sheet
    images_drawn(page)
    clean(page, "Filters")
    shot(page, artifacts, "imagenet_small_filters")

    go(page, "Step by step", "step by step", FIRST_TF)
    sample_photo(page)
    wait_text(page, "Sum of all 27 products", FIRST_TF)
    line = next(t for t in main_text(page).splitlines() if t.startswith("Sum of all"))
    assert "Sum of all 27 products (3 input channels)" in line, line
    clean(page, "Step by step")
    shot(page, artifacts, "imagenet_small_step_by_step")

    predict_on_a_photo(page, artifacts, "imagenet_small_predict")

    # Evaluation on the default dataset, shapes: none of its classes is ImageNet's, and the page says so
    go(page, "Evaluation", "Evaluation", FIRST_TF)
    wait_text(page, "is the name of an ImageNet class", FIRST_TF)
    warning = "\n".join(alerts(page, ("Warning",)))
    assert "“circle”, “square”, “triangle”, “star”" in warning and "“tabby”" in warning, warning
    assert "resized from 32×32 to 224×224" in main_text(page), main_text(page)[:1500]
    assert page.locator(MAIN).locator('[data-testid="stMetric"]').count() == 0  # nothing scored
    clean(page, "Evaluation, shapes")
    shot(page, artifacts, "imagenet_small_evaluation_shapes")

    # a folder of "cat" and "dog" photos, through the Data page
    go(page, "Data", "Data")
    select(page, "Dataset", "Image folder")
    choose(page, "A folder on this machine")
    fill(page, "Folder with one sub-folder per class", str(cat_dog_folder))
    act(page, button(page, "data_load").click, timeout=FIRST_TF)
    page.locator(MAIN).locator('[data-testid="stMetric"]').filter(has_text="Classes").first.wait_for()
    metrics = page.locator(MAIN).locator('[data-testid="stMetric"]').all_inner_texts()
    assert any(m.startswith("Classes") and m.endswith("2") for m in metrics), metrics
    assert any(m.startswith("Test images") and m.endswith("8") for m in metrics), metrics
    clean(page, "Data")

    go(page, "Evaluation", "Evaluation", FIRST_TF)
    page.locator(MAIN).locator('[data-testid="stMetric"]').filter(has_text="Accuracy over the matched classes") \
        .first.wait_for(timeout=FIRST_TF * 1000)
    wait_drawn(page, timeout=120)
    metrics = page.locator(MAIN).locator('[data-testid="stMetric"]').all_inner_texts()
    assert any(m.startswith("Images scored") and m.endswith("8") for m in metrics), metrics
    assert not alerts(page, ("Warning", "Error")), alerts(page)
    assert page.locator(MAIN).locator(".js-plotly-plot").count() >= 2  # confusion matrix, accuracy per class
    clean(page, "Evaluation, cat and dog")
    shot(page, artifacts, "imagenet_small_evaluation_cat_dog")

    go(page, "Embedding map", "Embedding map", FIRST_TF)
    page.locator(MAIN).locator(".js-plotly-plot").first.wait_for(timeout=FIRST_TF * 1000)
    traces = page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=\"stMain\"] .js-plotly-plot'))"
                           ".flatMap(g => (g._fullData || []).map(t => [t.name || '', (t.x || []).length]))")  # decoded
    named = dict(traces)
    assert named.get("cat") == 4 and named.get("dog") == 4 and named.get("your image") == 1, traces
    text = main_text(page)
    assert "the network's pooled features" in text and "each dot coloured by its own label" in text, text[:2000]
    clean(page, "Embedding")
    shot(page, artifacts, "imagenet_small_embedding_cat_dog")


def test_resnet50_from_the_keras_cache(net_server, weights, browser_page, artifacts):
    ensure_weights(net_server, weights, RESNET)  # (put there before the server started)
    page = browser_page
    models_page(page, net_server.url)
    pick_network(page, "ResNet50")
    # its file in the cache was checked and taken: nothing to download, nothing to import
    assert not button(page, "models_net_download").is_enabled()
    assert page.locator('[data-testid="stExpander"]').filter(has_text="No internet here?").count() == 0
    use_network(page, "ResNet50")
    assert "ResNet50 is now the current model" in main_text(page), errors_text(page) or main_text(page)[:2000]
    clean(page, "Models, ResNet50")

    activations_on_a_photo(page, "conv1_conv", artifacts, "imagenet_resnet50_activations")
    predict_on_a_photo(page, artifacts, "imagenet_resnet50_predict")


# --- a server whose memory for ImageNet networks holds ResNet50 alone, not beside MobileNetV3Small ------------


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory, weights):
    """``CNNLAB_MAX_IMAGENET_BYTES=100M``: ResNet50 (97.8 MB) fits alone, not with MobileNetV3Small (9.7 MB)."""
    server = start_server(tmp_path_factory.mktemp("imagenet_limited"), weights, cached=(SMALL, RESNET),
                          CNNLAB_MAX_IMAGENET_BYTES="100M")
    yield server
    server.stop()


def refuse_resnet50(page, url: str) -> str:
    """MobileNetV3Small in use, then "Use it" on ResNet50; returns the error shown."""
    models_page(page, url)
    use_network(page, "MobileNetV3Small")
    assert "MobileNetV3Small is now the current model" in main_text(page), errors_text(page)
    use_network(page, "ResNet50")
    return errors_text(page)


def current_model(page) -> str:
    return page.locator(SIDEBAR).locator('[data-testid="stSelectbox"]').filter(has_text="Model").first \
        .locator("input").input_value()


def test_a_second_network_over_the_memory_limit_is_refused(limited_server, browser_page, artifacts):
    page = browser_page
    message = refuse_resnet50(page, limited_server.url)
    assert "CNNLAB_MAX_IMAGENET_BYTES" in message, message or main_text(page)[:2000]
    assert "ResNet50 needs 98 MB of memory for its weights, with MobileNetV3Small loaded (9.7 MB)" in message, message
    assert "this server allows 100 MB" in message, message
    assert "ResNet50 is now the current model" not in main_text(page)
    assert current_model(page).startswith("MobileNetV3Small"), current_model(page)
    clean(page, "Models, over the limit")
    shot(page, artifacts, "imagenet_memory_limit")


def test_a_network_refused_for_memory_is_not_offered_to_pick(limited_server, browser_page, artifacts):
    """After the refusal the network is not among the user's models: picked there, every page would fail to
    load it again."""
    page = browser_page
    assert "CNNLAB_MAX_IMAGENET_BYTES" in refuse_resnet50(page, limited_server.url)
    offered = options(page, "Model", area=SIDEBAR)
    assert not any(o.startswith("ResNet50") for o in offered), offered
    go(page, "Activations", "Activations", FIRST_TF)
    assert not exceptions(page), exceptions(page)
    shot(page, artifacts, "imagenet_after_refusal")
