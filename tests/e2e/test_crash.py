"""Crash safety: SIGKILL the server during training and during a model save, restart it, check the registry.

After each kill the restarted server must list only complete entries, every one of
which loads; what the cut-short save left behind is an unlisted orphan that the
registry's clean-up removes, and the app saves new models as before.
"""

from __future__ import annotations

import json
import time


from bench.app_server import AppServer
from browser import exceptions, go, open_app, start_training, wait_text



def in_flight(models) -> list[str]:
    """Temporary files of a save in progress (the id's reservation does not count: it comes first)."""
    try:
        return [p.name for p in models.iterdir() if p.name.startswith(".") and not p.name.endswith(".reserve")]
    except OSError:
        return []


def check_registry(server: AppServer) -> list[str]:
    """Every listed entry loads; returns the listed names."""
    from core.storage.registry import ModelRegistry

    registry = ModelRegistry(server.models)
    names = []
    for entry in registry.list_entries():
        model, card = registry.load(entry.id)
        assert model.output_shape[-1] == len(card.class_names), entry.id
        names.append(entry.name)
    return names


def wait_listed(server: AppServer, name: str, timeout: float = 30) -> None:
    """Wait until the registry lists ``name`` (the save ends a moment after the page shows the result)."""
    deadline = time.time() + timeout
    while name not in check_registry(server) and time.time() < deadline:
        time.sleep(0.2)


def reopen(server: AppServer, page) -> None:
    server.start()
    open_app(page, server.url)
    go(page, "Models", "Models")
    assert not exceptions(page)


def test_sigkill_during_training_and_during_a_save_leaves_a_consistent_registry(tmp_path, browser_page, artifacts):
    from core.storage.registry import ModelRegistry

    server = AppServer(tmp_path / "server").start()
    page = browser_page
    try:
        open_app(page, server.url)
        start_training(page, 2, "before_crash")
        wait_text(page, "before_crash: test accuracy", timeout=120)
        wait_listed(server, "before_crash")
        assert check_registry(server) == ["before_crash"]

        # 1. killed while training
        start_training(page, 100, "killed_while_training")
        wait_text(page, "running · epoch", timeout=120)  # (the panel is redrawn every 2 s: no exact epoch)
        server.kill()
        assert check_registry(server) == ["before_crash"]
        reopen(server, page)
        assert check_registry(server) == ["before_crash"]

        # 2. killed while saving: as soon as the save's first temporary file is there
        caught = None
        for attempt in range(3):
            start_training(page, 2, f"killed_while_saving_{attempt}")
            deadline = time.time() + 180
            while time.time() < deadline and not caught:
                caught = in_flight(server.models)
                if caught:
                    server.kill()
                elif any(p.name.startswith(f"killed_while_saving_{attempt}") and p.suffix == ".json"
                         for p in server.models.iterdir()):
                    break  # the save finished between two looks: try again
                time.sleep(0.001)
            if caught:
                break
            wait_text(page, f"killed_while_saving_{attempt}: test accuracy", timeout=120)  # Train is free again
        assert caught, "no save was caught in flight in 3 tries"
        listed = check_registry(server)  # whatever is listed loads: the cut-short save is not, or it is whole
        assert "before_crash" in listed, listed
        leftovers = sorted(p.name for p in server.models.iterdir() if p.name.startswith("."))
        assert leftovers, "the cut-short save left its temporary files"
        reopen(server, page)
        assert check_registry(server) == listed
        # the clean-up removes the orphans and nothing listed
        registry = ModelRegistry(server.models)
        removed = {p.name for p in registry.remove_orphans(min_age_s=0)}
        assert set(leftovers) <= removed, (leftovers, removed)
        assert check_registry(server) == listed

        # 3. the restarted server saves as before
        start_training(page, 2, "after_crash")
        wait_text(page, "after_crash: test accuracy", timeout=120)
        wait_listed(server, "after_crash")
        assert "after_crash" in check_registry(server)
        assert "Traceback" not in server.log_text()
        (artifacts / "crash.json").write_text(json.dumps({
            "killed_while_saving": caught, "left_behind": leftovers, "removed_by_clean_up": sorted(removed),
            "listed_after_restart": listed, "listed_at_the_end": check_registry(server)}, indent=1))
    finally:
        server.stop()
