"""Who am I?: enrol faces from the webcam, train a CNN on them, and recognise people live."""

import re
from types import SimpleNamespace

import numpy as np
import streamlit as st

from core.data.images import ImageDecodeError, decode_image
from core.faces.detect import FaceError
from core.faces.enrol import CROP_SIZE, TEST_FRACTION
from core.training.benchmarks import comparison_rows, load_benchmark
from core.training.recipes import RECIPES
from core.training.small_data import choose_config
from ui.camera import camera_snapshot
from ui.enrol_editor import delete_everything, draw_add_identity, draw_identity, gallery
from ui.face_view import face_controls, show_face_pipeline
from ui.flash import show_flashes
from ui.job_progress import draw_job_progress
from ui.router import require_router
from ui.runs import is_running, owned_job, start_new_run, start_transfer_run
from ui.session import init_state
from ui.workspace import workspace
from ui.widget_memory import persist
from ui.text import plain
from ui.transfer_view import draw_start_point, transfer_problem

require_router(__file__)
init_state()
RECIPE = RECIPES["orl_faces"]  # its architecture and augmentation, tuned for a few photos a person

st.title("Who am I?")
st.caption("A face pipeline in three stages: MTCNN finds each face and its eyes, nose and mouth; the photo is "
           "turned so the eyes are level and the face cut out; only then does a small CNN say who it is. "
           "Enrol yourself and others from the webcam, train, and let it recognise you.")

faces = gallery()
with st.container(border=True):
    left, right = st.columns([4, 1], vertical_alignment="center")
    counts = faces.counts()
    n_faces = sum(counts.values())
    left.markdown(":material/lock: **Private to this session.** Captured faces are kept in this browser session's "
                  "memory on this machine, as aligned crops only; nothing is written to disk unless you save the "
                  "model below, and closing the tab forgets them. "
                  f"Now: {n_faces} face{'' if n_faces == 1 else 's'} of {len(counts)} {'person' if len(counts) == 1 else 'people'}.")
    right.button("Delete all faces", icon=":material/delete_forever:", key="face_delete_all", on_click=delete_everything,
                 help="Forget every enrolled face and the models trained on them in this session.")
    show_flashes("face_deleted")

st.subheader("1 · Enrol")
for name in faces.names():
    draw_identity(name)
draw_add_identity()

st.subheader("2 · Train")
problems = faces.training_problems()
running = is_running()
ours = owned_job("faces")
for problem in problems:
    st.warning(problem, icon=":material/warning:")
n_train = sum(n - max(1, round(n * TEST_FRACTION)) for n in counts.values())
auto = choose_config(max(1, n_train), learning_rate=RECIPE.learning_rate, augment=True)
shape = SimpleNamespace(input_shape=(*CROP_SIZE, 3), num_classes=max(2, len(counts)))
transfer = draw_start_point(shape, auto.epochs, prefix="face", fine_from=max(1, auto.epochs // 2),
                            scratch="Random weights (the faces recipe's CNN)", compact=True)
problem = transfer_problem(transfer, shape, auto.epochs) if transfer is not None else None
reason = "A training run is in progress." if running else (" ".join(problems) if problems else problem)
if transfer is None:
    st.caption(f"The fast faces recipe's CNN (three conv blocks of 16, 32 and 64 filters) on {CROP_SIZE[0]}×{CROP_SIZE[1]} "
               f"colour crops, with small turns, zooms and shifts; {TEST_FRACTION:.0%} of every person's faces are "
               "held out to test it. The model stays in this session until you save it.")
else:
    st.caption(f"A new softmax layer on the backbone's features of the {CROP_SIZE[0]}×{CROP_SIZE[1]} colour crops, "
               f"with small turns, zooms and shifts; {TEST_FRACTION:.0%} of every person's faces are held out to test "
               "it. A network that learnt photos of things has not learnt what tells one face from another: on the "
               "ORL faces it does worse than the faces recipe's CNN (README, Transfer learning). Train both and "
               "compare. The model stays in this session until you save it.")
if st.button("Train", type="primary", icon=":material/model_training:", key="face_train", disabled=reason is not None,
             help=reason or "Train a new face model on the enrolled faces."):
    try:
        dataset = faces.to_dataset()
    except FaceError as exc:
        st.error(str(exc))
        st.stop()
    config = choose_config(len(dataset.x_train), learning_rate=RECIPE.learning_rate, augment=True)
    name = "faces_" + "_".join(re.sub(r"[^A-Za-z0-9]+", "", n)[:8] or "x" for n in dataset.class_names)[:40]
    if transfer is None:
        start_new_run(RECIPE.spec(), dataset, config, name, owner="faces", private=True, face_margin=faces.margin)
    else:
        start_transfer_run(transfer, dataset, config, name, owner="faces", private=True, face_margin=faces.margin)


@st.fragment(run_every=1.0 if running and ours else None)
def show_progress():
    draw_job_progress("faces", "face", "on another page", lambda job: (
        f"{plain(job.name)}: {job.result['test_accuracy']:.0%} of the held-out faces recognised after "
        f"{job.result['epochs_done']} epochs ({job.result['train_seconds']:.0f} s)."))


show_progress()

entry = workspace().page_model("faces")  # the model this page's last finished run produced
if entry is not None:
    st.subheader("3 · Recognise")
    reference = entry.card.face_reference
    st.caption(f"{plain(entry.name)} knows: {', '.join(plain(c) for c in entry.class_names)}. Anyone else should come out as unknown. "
               "The CNN alone cannot say \"nobody I know\": it has one output per person, and its probabilities "
               "always add up to 100 % over them, so a stranger's face still goes to whoever it resembles most, "
               "often at 99 %. So the face is also compared with the enrolled photos.")
    if reference is not None:
        st.caption(f"Distance threshold {reference.threshold:.2f}: halfway between how far each enrolled photo is from "
                   f"the nearest other photo of the same person ({reference.same_person:.2f} on average) and from the "
                   f"nearest photo of someone else ({reference.other_person:.2f}). Further than that from the named "
                   "person's photos, the face is unknown. Distances are between the faces' gradient patterns (HOG), "
                   "which describe strangers as well as the enrolled people.")
    else:
        st.warning("This model has no enrolled faces to compare with: only its probabilities decide, and a stranger "
                   "may get a name. Train again to add them.", icon=":material/warning:")
    source = st.radio("Picture", ["camera", "upload"], horizontal=True, key=persist("face_try_source", "camera"),
                      format_func={"camera": "Webcam snapshot", "upload": "Upload a photo"}.get)
    shot = (camera_snapshot("Snapshot to recognise", key="face_try_camera") if source == "camera" else
            st.file_uploader("Photo to recognise", key="face_try_upload"))
    threshold, margin = face_controls("face_try", margin=entry.card.face_margin)
    if shot is not None:
        try:
            photo = np.asarray(decode_image(shot.getvalue()).convert("RGB"))
        except ImageDecodeError as exc:
            st.error(str(exc))
        else:
            show_face_pipeline(entry.model, entry.class_names, photo, key="face_try", threshold=threshold, margin=margin,
                               reference=reference)
    if entry.saved_id:
        st.caption(f"Saved to the models folder as {entry.saved_id}: it holds the learned weights and each enrolled "
                   "face's gradient pattern (HOG, to measure distances with), not the photos.")
    elif st.button("Save this model", icon=":material/save:", key="face_save",
                   help="Write the model (its weights and the enrolled faces' gradient patterns, not the photos) "
                        "to the models folder, to load it later."):
        workspace().save_model(entry)
        if entry.save_error:
            st.error(entry.save_error)
        else:
            st.rerun()

st.subheader("Why detect and align first?")
bench = load_benchmark("orl_faces")
if bench is None:
    st.caption("Run `python -m bench.time_to_accuracy --dataset orl_faces --baseline --save "
               "assets/benchmarks/orl_faces.json` to measure the comparison on this machine.")
else:
    st.markdown(f"On the ORL faces ({bench['train_images']} photos of 40 people to learn from, the other "
                f"{bench['test_images']} to test), the course project's face CNN against the fast faces recipe, "
                f"trained side by side on a {bench.get('cpus', '?')}-core CPU ({bench.get('measured', 'date not recorded')}):")
    st.dataframe(comparison_rows(bench), hide_index=True, key="face_comparison")
    base, recipe_run = bench.get("baseline") or {}, bench["recipe"]
    if base:
        st.caption(f"The course CNN has {base['params']:,} weights to fit, most of them in its dense 512 layer, from "
                   f"5 photos a person; the recipe's {recipe_run['params']:,}, with dropout and slightly varied copies of "
                   "every photo, generalise instead of memorising. Faces found and aligned as above give a CNN the "
                   "same head in the same place every time, which is what lets a handful of webcam snapshots suffice.")
