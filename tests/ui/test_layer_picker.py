"""ui.layer_picker on layer names alone: one plain selectbox for few layers, blocks and a search for many."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def picker_script():
    import streamlit as st

    from ui.layer_picker import pick_layer, pick_layers

    names = st.session_state["names"]
    st.session_state["picked_one"] = pick_layer("Layer", names, key="pick", only=st.session_state.get("only"))
    st.session_state["picked_many"] = pick_layers("Layers", names, key="many")


def run(names: list[str], **state) -> AppTest:
    at = AppTest.from_function(picker_script, default_timeout=30)
    at.session_state["names"] = names
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# CNN Lab's naming: 5 blocks of 8 layers
LARGE = [f"{kind}{block}_{i}" for block in range(1, 6) for i in range(1, 5) for kind in ("conv", "relu")]


def test_few_layers_keep_one_plain_selectbox_and_every_layer_for_the_multiple_choice():
    at = run(["conv1", "maxpool1", "conv2", "maxpool2"])
    assert [w.key for w in at.selectbox] == ["pick"] and not at.text_input and not at.multiselect
    assert at.selectbox(key="pick").options == ["conv1", "maxpool1", "conv2", "maxpool2"]
    assert at.session_state["picked_many"] == ["conv1", "maxpool1", "conv2", "maxpool2"]
    at.selectbox(key="pick").set_value("conv2").run()
    assert at.session_state["picked_one"] == "conv2"
    at.session_state["names"] = ["conv_a", "conv_b"]  # another model: the name kept is not among its layers
    at.run()
    assert not at.exception and at.session_state["picked_one"] == "conv_a"


def test_many_layers_are_picked_by_block_then_layer():
    at = run(LARGE)
    block = at.selectbox(key="pick_block")
    assert block.options == [f"block {b} · 8 layers" for b in range(1, 6)]
    assert at.selectbox(key="pick").options == LARGE[:8] and at.session_state["picked_one"] == "conv1_1"
    block.set_value("block 3").run()
    assert at.selectbox(key="pick").options == LARGE[16:24]
    assert at.session_state["picked_one"] == "conv3_1"  # a new block: its first layer
    at.selectbox(key="pick").set_value("relu3_2").run()
    assert at.session_state["picked_one"] == "relu3_2" and at.selectbox(key="pick_block").value == "block 3"
    assert at.session_state["picked_many"] == LARGE[:8]  # the multiple choice starts with the first block
    at.selectbox(key="many_block").set_value("block 5").run()
    assert at.session_state["picked_many"] == LARGE[32:]


def test_a_search_lists_matching_layers_of_every_block_and_the_block_follows_the_choice():
    at = run(LARGE)
    at.text_input(key="pick_find").input("relu2").run()
    assert "pick_block" not in [w.key for w in at.selectbox]
    # bare names have no kind: each found layer is shown with its block
    assert at.selectbox(key="pick").options == [f"relu2_{i} · block 2" for i in range(1, 5)]
    assert at.session_state["picked_one"] == "relu2_1"
    at.selectbox(key="pick").set_value("relu2_3").run()
    at.text_input(key="pick_find").input("").run()
    assert at.selectbox(key="pick_block").value == "block 2" and at.session_state["picked_one"] == "relu2_3"
    at.text_input(key="pick_find").input("nothing like it").run()
    assert any("0 layers match" in c.value for c in at.caption)
    assert at.selectbox(key="pick_block").value == "block 2"


def test_only_limits_the_choice_and_drops_empty_blocks():
    at = run(LARGE, only=[n for n in LARGE if n.startswith("conv") and not n.startswith("conv4")])
    # 16 convolutions left: few enough for one plain selectbox
    assert "pick_block" not in [w.key for w in at.selectbox]
    assert len(at.selectbox(key="pick").options) == 16
    at = run(LARGE + [f"conv{b}_{i}" for b in range(6, 9) for i in range(1, 6)], only=lambda n: n.startswith("conv"))
    assert [o.split(" · ")[0] for o in at.selectbox(key="pick_block").options] == [f"block {b}" for b in range(1, 9)]
