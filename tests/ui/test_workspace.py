"""ui.workspace: what happens when a run ends, with no browser tab involved."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from core.models.architecture import build_model
from core.storage.card import ModelCard
from core.storage.registry import ModelRegistry
from core.workspace import Workspace
from training_models import TINY_SPEC
from ui.workspace import SHIPPED_ID, LiveWorkspace
from ui.shipped import shipped_ids


def ended_run(name: str, private: bool = False, job_id: str = "j1"):
    model = build_model(TINY_SPEC, (8, 8, 1), 2, seed=0)
    card = ModelCard(name=name, class_names=["a", "b"], input_shape=(8, 8, 1), private=private)
    return SimpleNamespace(id=job_id, model=model, card=card, snapshots=[], probe=np.zeros((8, 8, 1), np.float32),
                           model_id=None)


@pytest.fixture
def ws(tmp_path):
    return LiveWorkspace(Workspace("ada", root=tmp_path))


def test_an_ended_run_is_saved_made_current_and_remembered_on_disk(ws):
    job = ended_run("ended")
    ws.finished(job, owner="train")
    entry = ws.models[job.model_id]
    assert ws.current == entry.id and entry.saved_id
    assert [e.id for e in ModelRegistry().list_entries()] == [entry.saved_id]
    state = json.loads(ws.store.state_path.read_text())
    assert state["current_model"] == entry.saved_id
    assert [n.id for n in ws.notices] == ["job:j1"] and "saved in the models folder" in ws.notices[0].text
    assert ws.page_entries == {"train": entry.id}


def test_a_model_of_enrolled_faces_stays_in_memory_and_leaves_nothing_on_disk(ws):
    job = ended_run("faces_Me_Friend", private=True)
    ws.finished(job, owner="faces")
    assert ws.models[job.model_id].saved_id is None and ws.current == job.model_id
    assert ModelRegistry().list_entries() == [] and not ws.store.folder.exists()  # not even its name
    assert "kept in memory until you save it" in ws.notices[0].text


def test_a_discarded_run_never_joins_the_models(ws):
    job = ended_run("gone")
    ws.discard(job)
    ws.finished(job, owner="faces")
    assert list(ws.models) == shipped_ids() and job.model_id is None and ws.current == SHIPPED_ID


def test_removing_the_current_model_falls_back_to_the_shipped_one(ws):
    job = ended_run("short_lived")
    ws.finished(job, owner="classes")
    ws.remove_model(job.model_id)
    assert ws.current == SHIPPED_ID and ws.page_model("classes") is None
    ws.remove_model(SHIPPED_ID)  # never
    assert SHIPPED_ID in ws.models


def test_a_save_that_fails_is_told_and_the_model_stays(ws, monkeypatch, tmp_path):
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("")
    monkeypatch.setenv("CNNLAB_MODELS_DIR", str(blocked / "models"))
    job = ended_run("unsaved")
    ws.finished(job, owner="train")
    assert ws.current == job.model_id and ws.models[job.model_id].save_error
    assert [n.kind for n in ws.notices] == ["success", "warning"]


def test_a_network_as_the_last_current_model_comes_back_only_when_it_can_load(tmp_path, monkeypatch):
    from core.models.imagenet import NETWORKS
    from core.models.imagenet_weights import weights_path
    from download_fixtures import closed_port_url, offline_cache
    from imagenet_files import trust, weights_file

    offline_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("CNNLAB_WEIGHTS_MIRROR", closed_port_url())
    monkeypatch.setattr("core.models.imagenet_weights._LOADED", {})
    net = NETWORKS["mobilenet_v3_small"]
    path = weights_file(net, weights_path(net).parent)
    trust(path, net, tmp_path, monkeypatch)
    first = LiveWorkspace(Workspace("ada", root=tmp_path / "ws"))
    first.set_current(first.add_network(net.key).id)

    again = LiveWorkspace(Workspace("ada", root=tmp_path / "ws"))  # the next server process
    again.restore()
    assert again.current == "imagenet:mobilenet_v3_small" and not again.notices

    monkeypatch.setenv("CNNLAB_MAX_IMAGENET_BYTES", "5M")  # the teacher lowered the limit meanwhile
    lowered = LiveWorkspace(Workspace("ada", root=tmp_path / "ws"))
    lowered.restore()
    assert lowered.current == SHIPPED_ID and "imagenet:mobilenet_v3_small" not in lowered.models
    assert "MobileNetV3Small) cannot be loaded now: MobileNetV3Small needs 9.7 MB" in lowered.notices[0].text

    monkeypatch.delenv("CNNLAB_MAX_IMAGENET_BYTES")
    chosen = LiveWorkspace(Workspace("ada", root=tmp_path / "ws"))
    chosen.set_current(chosen.add_network(net.key).id)  # chosen again, then its weights are deleted
    path.unlink()
    gone = LiveWorkspace(Workspace("ada", root=tmp_path / "ws"))
    gone.restore()
    assert gone.current == SHIPPED_ID and "weights are not on this server any more." in gone.notices[0].text
