"""Files a user brings, written to a folder for the browser to upload: real photos and a bad-input corpus.

The photos are scikit-image's sample photos (shipped with the package) in the
forms cameras and editors write: JPEG, PNG with transparency, greyscale, a
phone's EXIF-rotated JPEG and a 12-megapixel 4000x3000 JPEG.

``bad_inputs`` writes the robustness corpus: for each file, the upload path it
goes through and the message the user must see.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

import bad_files
import hostile_models


def _save(img: Image.Image, path: Path, fmt: str, **kwargs) -> Path:
    img.save(path, format=fmt, **kwargs)
    return path


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    return getattr(data, name)()


@dataclass
class Photo:
    path: Path
    size: tuple[int, int]  # upright (width, height), as the app reports it
    notes: list[str]  # what the app says it did to the picture


def real_photos(folder: Path) -> list[Photo]:
    """Five photos of the kinds users upload, with the size and notes the app should show for each."""
    folder.mkdir(parents=True, exist_ok=True)
    cat = Image.fromarray(_skimage("chelsea"))  # 451x300
    photos = [Photo(_save(cat, folder / "cat.jpg", "JPEG", quality=92), (451, 300), [])]

    rgba = np.dstack([_skimage("astronaut"), np.zeros((512, 512), np.uint8)])
    yy, xx = np.mgrid[:512, :512]
    rgba[..., 3][(yy - 256) ** 2 + (xx - 256) ** 2 < 230 ** 2] = 255  # a round cut-out, transparent corners
    photos.append(Photo(_save(Image.fromarray(rgba, "RGBA"), folder / "astronaut_cutout.png", "PNG"), (512, 512),
                        ["Transparent pixels are shown over white."]))

    photos.append(Photo(_save(Image.fromarray(_skimage("camera"), "L"), folder / "cameraman_grey.png", "PNG"),
                        (512, 512), []))

    # A phone held upright stores the sensor's landscape pixels and EXIF orientation 6.
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = cat.transpose(Image.Transpose.ROTATE_90)  # 300x451 as stored; turned 90° clockwise it is upright
    photos.append(Photo(_save(stored, folder / "cat_phone_exif6.jpg", "JPEG", quality=92, exif=exif.tobytes()),
                        (451, 300), ["Set upright from the camera's EXIF orientation (turned 90° clockwise)."]))

    coffee = Image.fromarray(_skimage("coffee")).resize((4000, 3000), Image.Resampling.BICUBIC)
    photos.append(Photo(_save(coffee, folder / "coffee_4000x3000.jpg", "JPEG", quality=85), (4000, 3000), []))
    return photos


# --- the bad-input corpus ------------------------------------------------------------------

@dataclass
class BadFile:
    path: Path
    target: str  # the upload path: "image" (Predict), "zip" (Data), "model" (Models), "classes" (My classes)
    expect: str  # a piece of the message the user must see
    kind: str = "error"  # how it is shown: "error", "warning", "info", "caption", "uploader" (Streamlit's own)
    what: str = ""  # what the file is, for the closing report


def _png(size=(64, 48), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg(size=(64, 48), seed=0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_skimage("chelsea")).resize(size).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small valid PNG whose header declares width x height (CRC recomputed): a decompression bomb."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def _zip(members: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = (0o120777 << 16)  # S_IFLNK: a symbolic link whose target is ``content``
            z.writestr(info, content)
    return buf.getvalue()


def _class_members(n: int = 5) -> dict[str, bytes]:
    return {f"{cls}/{i}.png": _png(seed=10 * k + i) for k, cls in enumerate(("cats", "dogs")) for i in range(n)}


def _zip_bomb() -> bytes:
    """One 'image' of 1 GB of zeros that deflates to about 1 MB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        info = zipfile.ZipInfo("cats/bomb.png")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            chunk = bytes(16 * 2**20)
            for _ in range(64):
                f.write(chunk)
    return buf.getvalue()


def _keras_models(folder: Path) -> dict[str, Path]:
    """A Lambda model, a model for 50x50x2 input, a regression model and a legacy .h5, saved by Keras itself."""
    import keras

    def small(inputs, outputs_units=3, activation="softmax"):
        x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.layers.Dense(outputs_units, activation=activation)(x)

    paths = {}
    inp = keras.Input((28, 28, 1))
    lam = keras.Model(inp, small(keras.layers.Lambda(lambda t: t * 2.0)(inp)))
    paths["lambda"] = folder / "lambda_layer.keras"
    lam.save(paths["lambda"])
    inp = keras.Input((50, 50, 2))
    paths["shape"] = folder / "two_channel_input.keras"
    keras.Model(inp, small(inp)).save(paths["shape"])
    inp = keras.Input((28, 28, 1))
    paths["regression"] = folder / "one_output_regression.keras"
    keras.Model(inp, small(inp, 1, "linear")).save(paths["regression"])
    inp = keras.Input((32, 32, 3))
    paths["other_dataset"] = folder / "cifar_sized.keras"
    keras.Model(inp, small(inp, 10)).save(paths["other_dataset"])
    paths["h5"] = folder / "legacy_model.h5"
    keras.Model(inp, small(inp, 10)).save(paths["h5"])
    return paths


def bad_inputs(folder: Path) -> list[BadFile]:
    """Write the corpus into ``folder``; returns every file with its path and the message it must get."""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[BadFile] = []

    def add(name: str, data: bytes, target: str, expect: str, kind: str = "error", what: str = "") -> None:
        path = folder / name
        path.write_bytes(data)
        files.append(BadFile(path, target, expect, kind, what or name))

    png, jpeg = _png(), _jpeg()
    # --- photos on Predict
    add("empty.png", b"", "image", "The file is empty (0 bytes)", what="an empty file")
    add("truncated.jpg", jpeg[: len(jpeg) // 2], "image", "damaged or truncated", what="a JPEG cut in half")
    add("truncated.png", png[: len(png) // 2], "image", "damaged or truncated", what="a PNG cut in half")
    add("notes_renamed.png", b"Shopping list: milk, eggs, bread.\n" * 20, "image", "not an image we can read",
        what="a text file renamed .png")
    add("page_renamed.png", b"<!DOCTYPE html><html><head><title>Cat</title></head><body><img src='cat.jpg'>"
        b"</body></html>", "image", "not an image we can read", what="an HTML page renamed .png")
    add("drawing.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<circle cx="50" cy="50" r="40" fill="orange"/></svg>', "image", "not an image we can read",
        what="an SVG drawing")
    pdf = io.BytesIO()
    Image.fromarray(_skimage("chelsea")).save(pdf, "PDF")
    add("cat.pdf", pdf.getvalue(), "image", "not an image we can read", what="a PDF holding a photo")
    add("random_bytes.jpg", np.random.default_rng(7).bytes(20_000), "image", "not an image we can read",
        what="random bytes named .jpg")
    add("bomb_30000x30000.png", png_declaring(30000, 30000), "image", "decompression bomb",
        what="a 100-byte PNG declaring 30000x30000 pixels")
    add("declares_8000x8000.png", png_declaring(8000, 8000), "image", "at most 16 MP are accepted",
        what="a PNG declaring 8000x8000 (64 MP)")
    big = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (4300, 4300, 3), dtype=np.uint8)).save(big, "BMP")
    add("huge_55mb.bmp", big.getvalue(), "image", "50.0MB", kind="uploader",
        what="a 55 MB BMP (over the 50 MB upload limit)")
    gif = io.BytesIO()
    frames = [Image.new("RGB", (40, 40), c) for c in ((0, 0, 0), (255, 255, 255), (128, 128, 128))]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    add("animated.gif", gif.getvalue(), "image", "Animated GIF with 3 frames: the first frame is used.", "caption",
        what="an animated GIF of 3 frames")
    deep = io.BytesIO()
    Image.fromarray((np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)).save(deep, "PNG")
    add("deep_16bit.png", deep.getvalue(), "image", "16-bit greyscale: scaled to 8 bits.", "caption",
        what="a 16-bit greyscale PNG")
    cmyk = io.BytesIO()
    Image.fromarray(_skimage("chelsea")).convert("CMYK").save(cmyk, "JPEG", quality=90)
    add("print_cmyk.jpg", cmyk.getvalue(), "image", "CMYK (print) colours: converted to RGB.", "caption",
        what="a CMYK JPEG")
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(tiny, "PNG")
    add("one_pixel.png", tiny.getvalue(), "image", "Only 1×1 pixels", "caption", what="a 1x1 pixel PNG")
    broken_exif = bytearray(jpeg)
    app1 = b"\xff\xe1" + struct.pack(">H", 18) + b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff\x00\x00"
    add("broken_exif.jpg", bytes(broken_exif[:2]) + app1 + bytes(broken_exif[2:]), "image", "broken_exif.jpg (64×48)",
        "caption", what="a JPEG whose EXIF block points outside itself")
    add("deep_16bit_7000x7000.png", bad_files.png16_zeros(7000, 7000), "image", "at most 16 MP are accepted",
        what="a 95 KB 16-bit PNG of 7000x7000 pixels (about 1 GB once decoded)")
    add("poster.eps", bad_files.eps_file(), "image", "a PostScript (EPS) file", what="an EPS file (Pillow would call "
        "Ghostscript)")
    # --- zips on Data
    add("escape.zip", _zip({**_class_members(), "../../escaped.png": png}), "zip", "'..'",
        what="a zip with a ../ path")
    add("absolute.zip", _zip({**_class_members(), "/tmp/cnnlab_absolute.png": png}), "zip", "absolute path",
        what="a zip with an absolute path")
    add("symlink.zip", _zip({**_class_members(), "cats/link.png": b"/etc/passwd"}, symlinks=("cats/link.png",)),
        "zip", "symbolic link", what="a zip with a symbolic link to /etc/passwd")
    add("bomb.zip", _zip_bomb(), "zip", "(a zip bomb?)", what="a zip bomb: 1 GB of zeros in 1 MB")
    add("many_files.zip", _zip({f"cats/{i}.png": b"x" for i in range(20001)}), "zip", "at most 20000 files",
        what="a zip of 20,001 files")
    add("blank_bmps.zip", bad_files.bmp_zip(), "zip", "(a zip bomb?)",
        what="a 116 KB zip of 100 blank BMPs that unpacks to 105 MB")
    add("one_each.zip", bad_files.zip_of([("cats/1.png", bad_files.small_png(1)), ("dogs/1.png", bad_files.small_png(2))]),
        "zip", "at least 2 images to keep one for testing", what="a zip of one image per class")
    add("not_a_zip.zip", b"This is a plain text file with a .zip name.\n" * 10, "zip", "not a zip or is damaged",
        what="a text file renamed .zip")
    add("empty.zip", b"", "zip", "empty file (0 bytes)", what="an empty .zip")
    whole = _zip(_class_members())
    add("truncated.zip", whole[: len(whole) // 2], "zip", "not a zip or is damaged", what="a zip cut in half")
    add("no_images.zip", _zip({"cats/readme.txt": b"no pictures", "dogs/list.csv": b"a,b\n"}), "zip",
        "Expected at least 2 class folders with images",
        what="a zip of class folders with no images")
    add("some_bad_members.zip", _zip({**_class_members(), "cats/broken.png": png[:100], "dogs/notes.txt": b"hi",
                                      "dogs/fake.jpg": b"<html></html>"}),
        "zip", "3 files skipped", kind="info", what="a zip of 10 photos with a broken PNG, a text file and a fake JPEG")
    # --- model files on Models
    models = _keras_models(folder)
    files.append(BadFile(models["lambda"], "model", "would run on the server", what="a .keras with a Lambda layer"))
    files.append(BadFile(models["h5"], "model", "Legacy .h5 files", what="a legacy .h5 model"))
    files.append(BadFile(models["shape"], "model", "is not an image model", what="a .keras for 50x50x2 input"))
    files.append(BadFile(models["regression"], "model", "is not a classifier",
                         what="a .keras with a single linear output"))
    files.append(BadFile(models["other_dataset"], "model", "does not fit the current dataset", kind="warning",
                         what="a .keras for 32x32x3 CIFAR-sized input"))
    for made in (hostile_models.giant_dense(folder), hostile_models.zero_weights(folder),
                 hostile_models.huge_input(folder)):
        files.append(BadFile(made, "model", {"giant_dense.keras": "100,000,000 units",
                                             "zero_weights.keras": "unpacks to 318 MB or more",
                                             "huge_input.keras": "20000×20000 pixels"}[made.name],
                             what={"giant_dense.keras": "a 2 KB .keras whose config says Dense(units=100000000)",
                                   "zero_weights.keras": "a 318 KB .keras whose deflated weights unpack to 318 MB",
                                   "huge_input.keras": "a 21 KB .keras for 20000x20000x3 images"}[made.name]))
    add("random_bytes.keras", np.random.default_rng(11).bytes(30_000), "model", "not a Keras model file",
        what="random bytes named .keras")
    add("empty.keras", b"", "model", "empty.keras", what="an empty .keras")
    add("not_keras.keras", _zip({"hello.txt": b"a zip, but not of a model"}), "model", "not_keras.keras",
        what="a zip that is not a Keras model, named .keras")
    # --- several photos at once on My classes
    add("class_good.jpg", jpeg, "classes", "class_good.jpg", kind="none", what="a good photo (uploaded with the next two)")
    add("class_text.png", b"just text", "classes", "class_text.png", what="a text file among class photos")
    add("class_truncated.png", png[:120], "classes", "class_truncated.png", what="a broken PNG among class photos")
    # --- the official files on Data (offline)
    add("train-images-idx3-ubyte.gz", gzip.compress(b"not idx data at all" * 100), "idx", "train-images-idx3-ubyte",
        what="a gzip of text named as an official Fashion-MNIST file")
    add("t10k-images-idx3-ubyte.gz", gzip.compress(bytes([0, 0, 8, 3]) + bytes(2**30), compresslevel=9), "idx",
        "which unpacks to more (a gzip bomb?)", what="a gzip bomb (1 GB of zeros in 1 MB) named as an official file")
    return files
