"""Data: choose a dataset, see samples of every class and the class counts."""

from pathlib import Path

import streamlit as st

from core.data import DATASETS, DatasetError, DatasetUnavailableError
from core.settings import classroom
from core.data.pixel_stats import pixel_statistics
from core.visuals.figures import class_count_bars, pixel_histogram
from core.visuals.markdown_table import markdown_table
from core.visuals.tiles import image_grid
from ui import uploads
from ui.augment_view import draw_augmentation_section
from ui.dataset_cache import get_dataset
from ui.access import official_files_folder, shown_source
from ui.flash import flash, show_flashes
from ui.folder_picker import folder_picker
from ui.identity import identify
from ui.router import require_router
from ui.session import current_dataset, dataset_key, init_state, set_dataset
from ui.widget_memory import persist
from ui.views import lazy_tabs
from ui.widgets import picture
from ui.text import plain

require_router(__file__)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_pixel_statistics(_images, dataset_key: str) -> dict:
    # A dataset's pixels never change, and reading 5,000 of them took about 1 s of every run of this page.
    return pixel_statistics(_images)


def zip_picker(chosen: str | None) -> str | None:
    """Upload a zip (one folder per class) or pick one of the user's uploads; returns its folder."""
    st.file_uploader("A .zip with one folder of images per class", key="data_zip", on_change=_on_zip)
    show_flashes("data_zip")
    mine = uploads.list_uploads()
    if not mine:
        st.caption("Your uploads stay in your own folder on the server, until you delete them.")
        return None
    first = next((p for p in mine if str(p) == chosen), mine[0])  # the dataset in use, after a refresh too
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    picked = c1.selectbox("Your uploads", mine, format_func=lambda p: p.name, key=persist("data_zip_pick", first))
    c2.button("Delete", key="data_zip_delete", on_click=uploads.delete_upload, args=(picked,),
              help="Delete this upload's images from the server.")
    return str(picked)


FOLDER_HINTS = {
    "mnist": "/path/to/mnist (holding train-images-idx3-ubyte.gz … or mnist.npz)",
    "fashion_mnist": "/path/to/fashion-mnist (holding train-images-idx3-ubyte.gz …)",
    "cifar10": "/path/to/cifar-10-batches-py (data_batch_1 … test_batch), or train/ and test/ image folders",
}


def sources(name: str) -> list[str]:
    """How this user may get the official files of ``name``: in a classroom, only the teacher imports them."""
    if not classroom():
        return ["download", "folder", "upload"]
    if identify().teacher:
        return ["download", "folder", "upload"]
    return ["download"] + (["shared"] if official_files_folder(name).is_dir() else [])


def offer_import(name: str, message: str) -> None:
    """A failed download: what failed, and the two ways to import the official files right here."""
    st.error(message)
    if "upload" not in sources(name):
        st.info("On this classroom server only the teacher imports the official files: ask them to upload them "
                "on this page. Until then, Shapes, Digits and your own photos work offline.")
        return
    st.markdown("**Import the official files instead**")
    c1, c2 = st.columns(2)
    c1.button("Upload the official files", key="data_import_upload", on_click=_set_source, args=("upload",),
              help={"cifar10": "cifar-10-python.tar.gz"}.get(name, "the four idx .gz files"))
    c2.button("Use a folder on this machine", key="data_import_folder", on_click=_set_source, args=("folder",),
              help=FOLDER_HINTS[name])


def _set_source(source: str) -> None:
    st.session_state["data_source"] = source


def _on_zip() -> None:
    imported = uploads.import_zip("data_zip")
    if imported is None:
        return
    filename, folder, report = imported
    counts = ", ".join(f"{plain(name)} {n}" for name, n in report.class_counts.items())
    given = (f", and its own test split: {sum(report.test_counts.values())} images in test/"
             if report.test_counts else "")
    flash("success", f"{plain(filename)}: {sum(report.class_counts.values())} images in {len(report.class_counts)} "
                     f"classes ({counts}){given}. Press Load dataset to use it.", slot="data_zip")
    if report.small_classes:
        flash("warning", "Too few images to learn from in: " + ", ".join(plain(c) for c in report.small_classes)
                         + ". Add more before training.", slot="data_zip")
    for warning in report.warnings:
        flash("warning", plain(warning, 600), slot="data_zip")
    if report.skipped:
        flash("info", f"{len(report.skipped)} files skipped: " + "; ".join(plain(s, 200) for s in report.skipped[:10])
                      + (" …" if len(report.skipped) > 10 else ""), slot="data_zip")
    st.session_state["data_zip_pick"] = folder

VIEWS = ["Samples", "Class counts", "Pixel values", "Augmentation"]


def draw_samples(ds) -> None:
    st.caption("Samples of every class, with its number of training and test images.")
    per_class = st.slider("Images per class", 4, 16, key=persist("data_per_class", 8))
    picked = ds.samples_per_class(per_class, seed=st.session_state.get("data_seed", 0))
    if st.button("Other samples", key="data_shuffle"):
        st.session_state["data_seed"] = st.session_state.get("data_seed", 0) + 1
        st.rerun()
    train, test = ds.class_counts("train"), ds.class_counts("test")
    for start in range(0, ds.num_classes, 2):
        cols = st.columns(2)
        for col, cls in zip(cols, range(start, min(start + 2, ds.num_classes))):
            idx = picked[cls]
            name = ds.class_names[cls]
            col.markdown(f"**{plain(name)}** · {train[name]:,} training, {test[name]:,} test"
                         + ("" if len(idx) else ": no images"))
            if len(idx):
                picture(col, image_grid(ds.x_train[idx], cols=per_class))


def draw_class_counts(ds) -> None:
    st.caption("A class with far fewer images than the others is learnt less well: the network meets it less often.")
    st.plotly_chart(class_count_bars(ds.class_counts("train"), ds.class_counts("test")), key="data_counts")


def draw_pixel_values(ds) -> None:
    st.caption("What the network's input numbers look like: every pixel is scaled to 0…1 before training. A dataset "
               "whose channels have very different brightness, or that uses only part of the range, is harder to "
               "learn.")
    stats = cached_pixel_statistics(ds.x_train, dataset_key(ds))
    c1, c2 = st.columns([1, 2])
    # A Markdown table, not st.dataframe: with the data grid, this page's first visit in a tab cost the browser
    # 2.58 s of CPU, with this table 2.28 s (the next visit about 0.5 s).
    c1.markdown(markdown_table({"channel": stats["channels"], "mean": stats["mean"], "std": stats["std"],
                                "min": stats["min"], "max": stats["max"]},
                               {k: "{:.3f}".format for k in ("mean", "std", "min", "max")}))
    c2.plotly_chart(pixel_histogram(stats), key="data_pixel_hist")
    c2.caption(f"From {stats['images']:,} training images.")


init_state()
st.title("Data")
st.caption("A CNN learns only from examples. Look at them first: what varies inside a class, "
           "what tells classes apart, and whether every class has enough images.")

current = st.session_state["dataset"]
given = current["options"]  # the widgets start on the dataset in use (a refreshed tab, another tab's choice)
names = list(DATASETS)
name = st.selectbox("Dataset", names, key=persist("data_name", current["name"]),
                    format_func=lambda n: DATASETS[n].title)
st.caption(DATASETS[name].description)

options: dict = {}
how = None
if name in FOLDER_HINTS:
    allowed = sources(name)
    start = "folder" if given.get("folder") else "download"
    if start not in allowed:
        start = "shared" if "shared" in allowed and given.get("folder") else "download"
    how = st.radio("Source", allowed, horizontal=True, key=persist("data_source", start),
                   format_func={"download": "Download (once, then kept for every session)",
                                "folder": "Local folder with the official files",
                                "upload": "Upload the official files",
                                "shared": "The files the teacher imported"}.get)
    if how == "upload":
        options["folder"] = uploads.official_files_upload(name)
    if how == "shared":
        options["folder"] = str(official_files_folder(name))
    if how == "folder" and classroom():
        options["folder"] = folder_picker("Folder with the official files", "data_shared_official",
                                          given.get("folder"), help=FOLDER_HINTS[name])
    elif how == "folder":
        options["folder"] = st.text_input("Folder", key=persist("data_folder", given.get("folder", "")),
                                          placeholder=FOLDER_HINTS[name])
elif name == "folder":
    in_uploads = uploads.is_upload(given.get("path"))
    places = ["server", "zip"] if not classroom() else ["shared", "zip"]
    where = st.radio("Images", places, horizontal=True,
                     key=persist("data_where", "zip" if in_uploads or not given.get("path") and classroom()
                                 else places[0]),
                     format_func={"server": "A folder on this machine", "zip": "Upload a .zip of class folders",
                                  "shared": "A folder the teacher shares"}.get)
    if where == "shared":
        options["path"] = folder_picker("Folder with one sub-folder per class", "data_shared",
                                        None if in_uploads else given.get("path"))
    elif where == "server":
        options["path"] = st.text_input("Folder with one sub-folder per class",
                                        key=persist("data_path", "" if in_uploads else given.get("path", "")),
                                        placeholder="/path/to/images")
    else:
        options["path"] = zip_picker(given.get("path"))
    c1, c2 = st.columns(2)
    options["image_size"] = c1.select_slider("Input size (pixels)", [16, 24, 28, 32, 48, 64, 96, 128],
                                             key=persist("data_size", given.get("image_size", 64)))
    channels = c2.radio("Colour", ["auto", "grey", "RGB"], horizontal=True,
                        key=persist("data_channels", {1: "grey", 3: "RGB"}.get(given.get("channels"), "auto")))
    if channels != "auto":
        options["channels"] = 1 if channels == "grey" else 3
    given_root = Path(options["path"] or "").expanduser()
    if options["path"] and (given_root / "train").is_dir() and (given_root / "test").is_dir():
        st.caption("These images come with their own train/ and test/ folders: that split is kept.")
    c1, c2 = st.columns(2)
    split = c1.radio("Test images", ["share", "per_class"], horizontal=True,
                     key=persist("data_split", "per_class" if given.get("train_per_class") else "share"),
                     format_func={"share": "20% of each class", "per_class": "all but k per class"}.get,
                     help="Without train/ and test/ sub-folders, the loader splits each class. For faces, the usual "
                          "split is a fixed number of photos per person for training (e.g. 5 of the 10 ORL photos).")
    if split == "per_class":
        options["train_per_class"] = int(c2.number_input("k training images per class", 1, 1000,
                                                         key=persist("data_k", given.get("train_per_class", 5))))

pending = {"name": name, "options": {k: v for k, v in options.items() if v not in (None, "")}}
needs_button = name not in ("shapes", "digits")
attempt = [pending, how]  # a failed download's message stays while the same load is chosen
if pending != current:
    if not needs_button or st.button("Load dataset", type="primary", key="data_load"):
        try:
            get_dataset(pending["name"], pending["options"])
            set_dataset(pending["name"], pending["options"])
            st.session_state.pop("data_download_failed", None)
            current = pending
            st.rerun()
        except DatasetUnavailableError as exc:
            if how is None:
                st.error(str(exc))
            else:
                st.session_state["data_download_failed"] = (attempt, str(exc))
        except DatasetError as exc:
            st.error(str(exc))
    failed = st.session_state.get("data_download_failed")
    if failed and failed[0] == attempt:
        offer_import(name, failed[1])

try:
    ds = current_dataset()
except DatasetError as exc:
    st.error(str(exc))
    st.stop()

if current != pending:
    st.info(f"Showing the loaded dataset, {ds.title}. Press **Load dataset** to switch.")

h, w, c = ds.input_shape
m1, m2, m3, m4 = st.columns(4)
m1.metric("Classes", ds.num_classes)
m2.metric("Training images", f"{len(ds.x_train):,}")
m3.metric("Test images", f"{len(ds.x_test):,}")
m4.metric("Image size", f"{h}×{w}×{c}")
st.caption(f"Source: {plain(shown_source(ds.source), 300)}")
if ds.warnings:
    with st.expander(f"{len(ds.warnings)} files skipped"):
        st.text("\n".join(ds.warnings[:200]))

label, panel = lazy_tabs("data_view", VIEWS)
with panel:
    if label == "Samples":
        draw_samples(ds)
    elif label == "Class counts":
        draw_class_counts(ds)
    elif label == "Pixel values":
        draw_pixel_values(ds)
    else:
        draw_augmentation_section(ds)
