"""core.storage.registry against real crashes and other processes: every listed entry must load.

Saves killed with SIGKILL at every step and at random moments, and two processes saving into one
folder at once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from core.storage.registry import ModelRegistry
from registry_models import probe, tiny_cnn


CHILD = r"""
import os, sys, time
from pathlib import Path
from core.storage.card import ModelCard
from core.storage.registry import ModelRegistry

reference, root, saves, pause_at, pause_nth = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
seen = {}


class CopyModel:
    # Saves a real .keras file slowly, in chunks, so that a kill can land in the middle of a write.
    def save(self, path):
        data = Path(reference).read_bytes()
        with open(path, "wb") as f:
            for i in range(0, len(data), 8192):
                f.write(data[i:i + 8192])
                f.flush()
                time.sleep(0.003)


real_replace = os.replace


def report(event):
    # Say where the save is; at the chosen moment, wait there for the parent's SIGKILL, however
    # long the parent takes to get to this child (no timer that a slow machine could outlast).
    # Should the parent die first, its end of stdin closes and the child leaves without saving more.
    print(event, flush=True)
    seen[event] = seen.get(event, 0) + 1
    if event == pause_at and seen[event] == pause_nth:
        sys.stdin.read()
        os._exit(3)


def traced_replace(src, dst):
    report("before " + Path(dst).suffix)
    real_replace(src, dst)
    report("after " + Path(dst).suffix)


os.replace = traced_replace
registry = ModelRegistry(root)
print("ready", flush=True)
for n in range(saves):
    registry.save(CopyModel(), ModelCard(name=f"run {n}"))
    print("saved", flush=True)
"""


def _start_child(tmp_path, reference, root, env, saves, pause_at="", pause_nth=0):
    # Written once, whole, under its final name: rewriting it for each child (truncate, then
    # write) could let a child that had just started read an empty script and end without a word.
    script = tmp_path / "child.py"
    if not script.exists():
        part = tmp_path / ".child.py.part"
        part.write_text(CHILD)
        os.replace(part, script)
    return subprocess.Popen([sys.executable, str(script), str(reference), str(root), str(saves), pause_at,
                             str(pause_nth)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _assert_every_listed_entry_loads(registry, expected):
    for entry in registry.list_entries():
        model, card = registry.load(entry.id)
        assert card.name.startswith("run ")
        np.testing.assert_array_equal(np.asarray(model(probe())), expected)


# Where a save is killed (always its second save), and what it leaves behind besides its id
# reservation: temporary files (names starting with ".") and complete files without their partner.
KILL_POINTS = {
    "before .keras": {"temp .keras"},  # the model is written to a temporary file, not yet renamed
    "after .keras": {"orphan .keras"},  # the .keras is in place, its JSON not yet written
    "before .json": {"orphan .keras", "temp .json"},  # the JSON is written, not yet renamed
    "after .json": set(),  # complete: listed
}


def _leftover_kind(path: Path) -> str | None:
    if path.name.endswith(".reserve"):
        return None
    return ("temp " if path.name.startswith(".") else "orphan ") + path.suffix


def test_killed_saves_leave_only_complete_loadable_entries(tmp_path, make_subprocess_env):
    model = tiny_cnn()
    reference = tmp_path / "reference.keras"
    model.save(reference)
    expected = np.asarray(model(probe()))
    env = make_subprocess_env()

    # The four steps of the second save, each killed for real: the first save's entry is listed,
    # the second only once its JSON is in place; every listed entry loads.
    children = {event: _start_child(tmp_path, reference, tmp_path / event.replace(" ", "_"), env, 5, event, 2)
                for event in KILL_POINTS}
    for event, child in children.items():
        seen = 0
        for line in child.stdout:
            seen += line.strip() == event
            if seen == 2:
                break
        assert seen == 2, (event, child.wait(timeout=30), child.stderr.read())
        child.send_signal(signal.SIGKILL)
        # Killed where it waited: it writes nothing more (a child that went on would print its
        # next steps) and ends by the signal.
        rest = child.stdout.read()
        status = child.wait(timeout=30)
        assert rest == "" and status == -signal.SIGKILL, (rest, status, child.stderr.read())
        root = tmp_path / event.replace(" ", "_")
        registry = ModelRegistry(root)
        listed = registry.list_entries()
        assert len(listed) == (2 if event == "after .json" else 1), (event, os.listdir(root))
        _assert_every_listed_entry_loads(registry, expected)
        leftovers = registry.remove_orphans(min_age_s=0)
        assert {_leftover_kind(p) for p in leftovers} - {None} == KILL_POINTS[event], (event, leftovers)
        assert [e.id for e in registry.list_entries()] == [e.id for e in listed]
        assert sorted(p.name for p in root.iterdir()) == sorted(n for e in listed for n in (e.keras_path.name,
                                                                                              e.json_path.name))

    # Kills at random moments, into one folder that collects what every killed run left behind.
    root = tmp_path / "random"
    rng = random.Random(0)
    for _ in range(5):
        before = len(ModelRegistry(root).list_entries()) if root.exists() else 0
        child = _start_child(tmp_path, reference, root, env, 1000)
        assert child.stdout.readline().strip() == "ready"
        # Kill after the first finished save, at a random moment of a later one: a loaded
        # machine may otherwise never finish a single save within the random delay.
        while (line := child.stdout.readline().strip()) != "saved":
            assert line, "the child ended before its first save"
        try:
            child.wait(timeout=rng.uniform(0.05, 0.4))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        reported = 1 + child.stdout.read().count("saved")
        # every save this run reported is listed; at most one more got its JSON in before the kill
        added = len(ModelRegistry(root).list_entries()) - before
        assert reported <= added <= reported + 1
    registry = ModelRegistry(root)
    assert len(registry.list_entries()) >= 1
    _assert_every_listed_entry_loads(registry, expected)


def test_two_processes_saving_at_once_get_distinct_entries(tmp_path, make_subprocess_env):
    model = tiny_cnn()
    reference = tmp_path / "reference.keras"
    model.save(reference)
    root = tmp_path / "shared"
    children = [_start_child(tmp_path, reference, root, make_subprocess_env(), 4) for _ in range(2)]
    for child in children:
        assert child.wait(timeout=60) == 0, child.stderr.read()
    entries = ModelRegistry(root).list_entries()
    assert len(entries) == 8 and len({e.id for e in entries}) == 8

