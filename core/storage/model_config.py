"""The figures of a model described by a Keras 3 config (a ``.keras`` file's config.json), no layer built.

``measure_config(json.loads(text))`` walks a ``Sequential`` or ``Functional`` config, models nested in
it included, and works out each layer's output shape and weights with
``core.models.layer_arithmetic``; it returns a ``ModelSize`` for ``core.models.size_limits``.

The walk refuses (``ConfigRefusal``, a sentence for a learner) whatever it cannot vouch for, because
``keras.models.load_model`` acts on more of the config than the graph: it builds every layer from its
``build_config`` (so a Dense built for 100,000,000 inputs takes gigabytes whatever it is later
called on), instantiates every object named in a layer's settings (an "initializer" may name a
layer, built on the spot), and calls a layer on a tensor of the shape a node declares when the node
gives no history. So: layers of ``keras.layers`` known to the arithmetic only, settings objects of
the initializer, regularizer, constraint and dtype-policy kinds only, every node's inputs traced to
a layer of the graph, every ``build_config`` equal to the shapes the graph gives, no layer left out
of the graph.

Somewhat over 300 lines: one walk, whose rules share what it has worked out of the graph so far.
"""

from __future__ import annotations

import math

from core.models.layer_arithmetic import LayerConfigError, known_layers, layer_output
from core.models.size_limits import ModelSize

Shape = tuple

MODEL_MODULES = {"Functional": {"keras.src.models.functional"}, "Sequential": {"keras", "keras.src.models.sequential"}}
SETTINGS_MODULES = {"keras.initializers", "keras.regularizers", "keras.constraints"}
FLOAT_POLICIES = {"float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16"}
MAX_DEPTH = 8  # models inside models
# Keras operations a graph may apply (keras.applications.MobileNetV3 builds its hard sigmoid with them)
OPS_MODULE = "keras.src.ops.numpy"
OPERATIONS = frozenset({"Add", "Subtract", "Multiply"})
# CNN Lab's own layers, as a saved model names them: (module, registered name) -> class (core.models.imagenet)
OWN_LAYERS = {("core.models.imagenet", "cnnlab>ImageNetPreprocessing"): "ImageNetPreprocessing"}
IMAGENET_MODES = ("raw", "tf", "caffe")  # core.models.imagenet.MODES, without importing it here

_CODE = ("it contains Python code (for example a Lambda layer) that would run on the server when the model is "
         "loaded, and CNN Lab never runs code from an uploaded file. Rebuild the model from built-in Keras layers "
         "only")
_CUSTOM = ("it uses custom layers or functions, which are code that would have to run on the server, and CNN Lab "
           "never runs code from an uploaded file. Rebuild the model from built-in Keras layers only")


class ConfigRefusal(ValueError):
    """A model config the app will not load; the message is a sentence for a learner, starting in lower case."""


def measure_config(config) -> ModelSize:
    """The figures of the model a Keras 3 config describes.

    Args:
        config: the parsed config.json of a ``.keras`` file, or ``json.loads(model.to_json())``.

    Raises:
        ConfigRefusal: a layer, a setting or a graph the walk cannot vouch for; the message says which.
    """
    if not isinstance(config, dict) or _text(config.get("class_name")) not in MODEL_MODULES:
        found = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        if isinstance(config, dict) and not str(config.get("module") or "").startswith("keras"):
            raise ConfigRefusal(_CUSTOM)
        raise ConfigRefusal(f"its config.json does not describe a Sequential or Functional model (it holds a "
                            f"{found!r}). Save the model with Keras 3's model.save(\"name.keras\")")
    walk = _Walk()
    inputs = walk.model(config, None, 0)
    return ModelSize(params=walk.params, input_shapes=tuple(inputs), layers=walk.layers,
                     largest_output=walk.largest, widest_dense=walk.widest, weight_bytes=walk.weight_bytes)


class _Walk:
    def __init__(self):
        self.params, self.layers, self.weight_bytes = 0, 0, 4
        self.largest: tuple[str, Shape] | None = None
        self.widest: tuple[str, int] | None = None
        # What the first call of a layer or an inner model gave, by id of its entry: later calls share its weights.
        self.first_calls: dict[int, tuple[list[Shape], list[Shape]]] = {}
        self.first_params: dict[int, int] = {}

    # --- models ---------------------------------------------------------------------------------------

    def model(self, entry: dict, inputs: list[Shape] | None, depth: int) -> list[Shape]:
        """Walk a model entry called on ``inputs`` (None: the top model, on its own inputs); its outputs.

        The top model returns its input shapes instead, which is all the caller needs of it.
        """
        name, class_name = entry.get("name") or "model", _text(entry.get("class_name"))
        if depth > MAX_DEPTH:
            raise ConfigRefusal(f"it nests models more than {MAX_DEPTH} deep")
        if _text(entry.get("module")) not in MODEL_MODULES[class_name] or entry.get("registered_name") not in (None, class_name):
            raise ConfigRefusal(_CUSTOM)
        if depth and entry.get("compile_config"):
            raise ConfigRefusal(f"its inner model {name!r} carries training settings (compile_config) that CNN Lab "
                                f"does not load. Save the model again without compiling the inner model")
        config = _dict(entry.get("config"), f"the config of {name!r}")
        entries = config.get("layers")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigRefusal(f"its config.json does not add up: model {name!r} has no list of layers")
        self.layers += len(entries)
        if class_name == "Sequential":
            first, outputs = self.sequential(config, entries, inputs, depth)
        else:
            first, outputs = self.functional(config, entries, inputs, depth)
        self.built_for(entry, first)
        return first if inputs is None else outputs

    def sequential(self, config: dict, entries: list[dict], inputs, depth) -> tuple[list[Shape], list[Shape]]:
        declared, input_name = config.get("build_input_shape"), config.get("name")
        if entries and entries[0].get("class_name") == "InputLayer":
            declared, input_name = [None, *self.input_shape(entries[0])], entries[0]["config"].get("name")
            entries = entries[1:]
        first = shape = self.fixed(declared, inputs, config.get("name"))
        self.output(str(input_name or "input"), first)
        for entry in entries:
            outputs = self.call(entry, [shape], depth, first=True)
            if len(outputs) != 1:
                raise ConfigRefusal(f"its config.json does not add up: {entry.get('name')!r} in a Sequential model "
                                    f"has {len(outputs)} outputs")
            shape = outputs[0]
        return [first], [shape]

    def functional(self, config: dict, entries: list[dict], inputs, depth) -> tuple[list[Shape], list[Shape]]:
        by_name = {}
        for entry in entries:
            name = entry.get("name")
            if not isinstance(name, str) or name in by_name:
                raise ConfigRefusal(f"its config.json does not add up: two layers, or none, are named {name!r}")
            by_name[name] = entry
        input_refs, output_refs = _refs(config.get("input_layers")), _refs(config.get("output_layers"))
        if inputs is not None and len(inputs) != len(input_refs):
            raise ConfigRefusal(f"its config.json does not add up: model {config.get('name')!r} takes "
                                f"{len(input_refs)} inputs and is given {len(inputs)}")
        done: dict[tuple[str, int], list[Shape]] = {}
        for i, (name, node, tensor) in enumerate(input_refs):
            entry = by_name.get(name)
            if entry is None or entry.get("class_name") != "InputLayer" or (node, tensor) != (0, 0):
                raise ConfigRefusal(f"its config.json does not add up: input {name!r} is not an InputLayer")
            given = None if inputs is None else [inputs[i]]
            done[(name, 0)] = [self.fixed([None, *self.input_shape(entry)], given, name)]
            self.output(name, done[(name, 0)][0])
        nodes = {}
        for name, entry in by_name.items():
            calls = entry.get("inbound_nodes") or []
            if entry.get("class_name") == "InputLayer":
                if (name, 0) not in done or calls:
                    raise ConfigRefusal(f"its config.json does not add up: InputLayer {name!r} is not one of the "
                                        f"model's inputs")
                continue
            if not isinstance(calls, list) or not calls:
                raise ConfigRefusal(f"its config.json does not add up: layer {name!r} is not connected to the model")
            nodes.update({(name, i): call for i, call in enumerate(calls)})
        for key in nodes:
            self.evaluate(key, nodes, by_name, done, depth)
        outputs = []
        for name, node, tensor in output_refs:
            if (name, node) not in done or tensor >= len(done[(name, node)]):
                raise ConfigRefusal(f"its config.json does not add up: output {name!r} is not made by the graph")
            outputs.append(done[(name, node)][tensor])
        return [done[(ref[0], 0)][0] for ref in input_refs], outputs

    def evaluate(self, key, nodes, by_name, done, depth) -> None:
        """Work out the outputs of node ``key`` and of every node it needs, without recursion (graphs run deep)."""
        stack, open_ = [key], set()
        while stack:
            current = stack[-1]
            if current in done:
                stack.pop()
                continue
            refs = _node_inputs(nodes[current], current[0])
            needed = [(n, i) for n, i, _ in refs]
            if current[1] > 0:
                needed.append((current[0], current[1] - 1))  # Keras calls a layer's nodes in order
            for dep in needed:
                if dep not in done and dep not in nodes:
                    raise ConfigRefusal(f"its config.json does not add up: layer {current[0]!r} takes an input from "
                                        f"{dep[0]!r} call {dep[1]}, which the model does not have")
            missing = [dep for dep in needed if dep not in done]
            if missing:
                if current in open_ or any(dep in open_ for dep in missing):
                    raise ConfigRefusal(f"its config.json does not add up: layer {current[0]!r} takes its own output")
                open_.add(current)
                stack.extend(missing)
                continue
            shapes = []
            for n, i, t in refs:
                if t >= len(done[(n, i)]):
                    raise ConfigRefusal(f"its config.json does not add up: {n!r} has no output {t}")
                shapes.append(done[(n, i)][t])
            done[current] = self.call(by_name[current[0]], shapes, depth, first=current[1] == 0)
            stack.pop()

    # --- layers -----------------------------------------------------------------------------------------

    def call(self, entry: dict, shapes: list[Shape], depth: int, first: bool) -> list[Shape]:
        """The outputs of one call of a layer or an inner model; its weights are counted at its first call."""
        class_name, name = _text(entry.get("class_name")), entry.get("name") or _dict(entry.get("config"), "a layer").get("name")
        if class_name in MODEL_MODULES and _text(entry.get("module")) in MODEL_MODULES[class_name]:
            if not first:
                earlier = self.first_calls.get(id(entry))
                if earlier is None or earlier[0] != shapes:
                    raise ConfigRefusal(f"its inner model {name!r} is called on inputs of different shapes")
                return earlier[1]
            outputs = self.model(entry, shapes, depth + 1)
            self.first_calls[id(entry)] = (shapes, outputs)
            return outputs
        if _text(entry.get("module")) == OPS_MODULE:
            out = self.operation(entry, class_name, name, shapes)
            self.output(name, out)
            return [out]
        self.check_layer(entry, class_name, name)
        config = entry["config"]
        try:
            out, params = layer_output(class_name, config, shapes)
        except LayerConfigError as exc:
            raise ConfigRefusal(f"its layer {name!r} ({class_name}) cannot be used: {exc}") from exc
        if first:
            self.built_for(entry, shapes)
            self.params += params
            self.first_params[id(entry)] = params
        elif params != self.first_params.get(id(entry)):
            raise ConfigRefusal(f"its layer {name!r} is shared between inputs that need different weights")
        if class_name == "Dense" and (self.widest is None or config["units"] > self.widest[1]):
            self.widest = (name, config["units"])
        self.output(name, out)
        return [out]

    def output(self, name: str, shape: Shape) -> None:
        if self.largest is None or math.prod(shape) > math.prod(self.largest[1]):
            self.largest = (name, shape)

    def operation(self, entry: dict, class_name, name, shapes: list[Shape]) -> Shape:
        """An arithmetic operation of ``keras.ops`` applied in the graph (MobileNetV3's ``x + 3.0`` and
        ``x * (1 / 6)``): only ``OPERATIONS``, on tensors and plain numbers, with no settings; no weights."""
        config = entry.get("config")
        if (class_name not in OPERATIONS or entry.get("registered_name") != class_name or not isinstance(config, dict)
                or set(config) - {"name"} or not shapes):
            raise ConfigRefusal(f"it applies a Keras operation directly in its graph ({class_name} of {OPS_MODULE}, "
                                f"named {name!r}), and CNN Lab checks models made of layers and of "
                                f"{', '.join(sorted(OPERATIONS))} only. Use the matching layer instead "
                                f"(keras.layers.Add for keras.ops.add, for example)")
        for node in entry.get("inbound_nodes") or []:
            for arg in node.get("args", []):
                if not (isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__") and \
                        (isinstance(arg, bool) or not isinstance(arg, (int, float))):
                    raise ConfigRefusal(f"its operation {name!r} ({class_name}) is applied to {str(arg)[:80]!r}; "
                                        "CNN Lab takes tensors and plain numbers only there")
        return _broadcast(shapes, name)

    def check_layer(self, entry: dict, class_name, name) -> None:
        module, registered = _text(entry.get("module")), entry.get("registered_name")
        if (module, registered) in OWN_LAYERS:
            config = _dict(entry.get("config"), f"the config of {name!r}")
            if entry.get("class_name") != OWN_LAYERS[(module, registered)] or config.get("mode") not in IMAGENET_MODES \
                    or set(config) - {"name", "trainable", "dtype", "mode"}:
                raise ConfigRefusal(f"its layer {name!r} ({registered}) has settings CNN Lab does not know")
            self.check_settings(config.get("dtype"), name, "dtype")
            return
        if class_name == "Lambda" or class_name == "__lambda__":
            raise ConfigRefusal(f"{_CODE} (its layer {name!r} is a Lambda)")
        if not isinstance(module, str) or not module.startswith("keras") or registered not in (None, class_name):
            raise ConfigRefusal(f"{_CUSTOM} (its layer {name!r} is a {registered or class_name!r})")
        if module.startswith(("keras.src.ops", "keras.ops")):
            raise ConfigRefusal(f"it applies a Keras operation directly in its graph ({class_name} of {module}, "
                                f"named {name!r}), and CNN Lab checks models made of layers only. Use the matching "
                                f"layer instead (keras.layers.Add for keras.ops.add, for example)")
        if module != "keras.layers" or class_name not in known_layers():
            raise ConfigRefusal(f"it uses a kind of layer whose size CNN Lab cannot work out before loading it: "
                                f"{class_name} (layer {name!r}). CNN Lab takes image models made of convolution, "
                                f"dense, pooling, normalisation, dropout, resizing and augmentation layers")
        config = _dict(entry.get("config"), f"the config of {name!r}")
        if isinstance(config.get("dtype"), str) or config.get("dtype") is None:
            self.dtype(config.get("dtype") or "float32", name)
        for key, value in config.items():
            self.check_settings(value, name, key)

    def check_settings(self, value, name, key: str) -> None:
        """Every object a layer's settings name must be an initializer, a regularizer, a constraint or a dtype."""
        if isinstance(value, list):
            for v in value:
                self.check_settings(v, name, key)
        elif isinstance(value, dict):
            if "class_name" in value:
                module, class_name = _text(value.get("module")), value.get("class_name")
                policy = module == "keras" and class_name in ("DTypePolicy", "FloatDTypePolicy")
                if not (policy or module in SETTINGS_MODULES) or "build_config" in value or "compile_config" in value:
                    raise ConfigRefusal(f"its layer {name!r} names an object CNN Lab does not load in its "
                                        f"setting {key!r}: a {class_name!r} of {module!r}")
                if policy:
                    self.dtype(_dict(value.get("config"), "a dtype policy").get("name"), name)
            for v in value.values():
                self.check_settings(v, name, key)

    def dtype(self, policy, name) -> None:
        if _text(policy) not in FLOAT_POLICIES:
            raise ConfigRefusal(f"its layer {name!r} stores its weights as {policy!r}; CNN Lab takes float "
                                f"weights only (not quantized ones)")
        if policy == "float64":
            self.weight_bytes = 8

    # --- shapes -------------------------------------------------------------------------------------------

    def input_shape(self, entry: dict) -> list:
        """The shape an InputLayer declares, without the batch axis (None where any size goes)."""
        config = _dict(entry.get("config"), "an InputLayer")
        if config.get("input_tensor") is not None:
            raise ConfigRefusal("its config.json does not add up: an InputLayer made from another tensor")
        batch = config.get("batch_shape", config.get("batch_input_shape"))
        if batch is None and config.get("shape", config.get("input_shape")) is not None:
            batch = [None, *_list(config.get("shape", config.get("input_shape")), "an input shape")]
        batch = _list(batch, "an input shape")
        if not batch:
            raise ConfigRefusal("its config.json does not add up: an InputLayer with no shape")
        return batch[1:]

    def fixed(self, declared, given, name) -> Shape:
        """The shape a model's input takes: the one it is given, else the one it declares, which must be whole."""
        declared = None if declared is None else _list(declared, "an input shape")[1:]
        if given is not None:
            shape = tuple(given[0])
            if declared is not None and not _fits(declared, shape):
                raise ConfigRefusal(f"its config.json does not add up: model {name!r} declares inputs of shape "
                                    f"{tuple(declared)} and is given {shape}")
            return shape
        if declared is None or any(d is None for d in declared):
            shown = "unknown" if declared is None else tuple(declared)
            raise ConfigRefusal(f"Expected a model with a fixed image size. Received: it takes images of shape "
                                f"{shown} (any size); add an Input of a fixed size, e.g. (32, 32, 3)")
        return tuple(declared)

    def built_for(self, entry: dict, shapes: list[Shape]) -> None:
        """Refuse a ``build_config`` other than the shapes the layer is first called on: Keras builds from it."""
        build = entry.get("build_config")
        if not build:
            return
        if not isinstance(build, dict) or set(build) - {"input_shape"}:
            raise ConfigRefusal(f"its config.json does not add up: layer {entry.get('name')!r} has a build_config "
                                f"CNN Lab cannot check")
        declared = build.get("input_shape")
        if declared is None:
            return
        declared = _list(declared, "a build shape", nested=True)
        many = bool(declared) and all(isinstance(d, list) for d in declared)
        wanted = [d[1:] for d in declared] if many else [declared[1:]]
        if len(wanted) != len(shapes) or not all(_fits(w, s) for w, s in zip(wanted, shapes)):
            raise ConfigRefusal(f"its config.json does not add up: layer {entry.get('name')!r} is built for inputs "
                                f"of shape {_shown(wanted)} but the model gives it {_shown(shapes)}")


def _text(value) -> str | None:
    """A name from JSON, where a list or a table may stand instead (None then: it names nothing)."""
    return value if isinstance(value, str) else None


def _broadcast(shapes: list[Shape], name) -> Shape:
    """The shape NumPy's broadcasting gives ``shapes`` (batch axis left out), or a refusal."""
    rank = max(len(sh) for sh in shapes)
    out = []
    for axis in range(rank):
        sizes = {sh[axis - rank + len(sh)] for sh in shapes if axis - rank + len(sh) >= 0} - {1}
        if len(sizes) > 1:
            raise ConfigRefusal(f"its config.json does not add up: operation {name!r} combines shapes "
                                f"{_shown(shapes)} that do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _fits(declared, shape) -> bool:
    return len(declared) == len(shape) and all(d is None or d == s for d, s in zip(declared, shape))


def _shown(shapes) -> str:
    return ", ".join(str(tuple(s)) for s in shapes)


def _dict(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigRefusal(f"its config.json does not add up: {what} is not a set of settings")
    return value


def _list(value, what: str, nested: bool = False) -> list:
    """A shape from JSON: a list of whole numbers of at least 1 or None (or, ``nested``, a list of such shapes)."""
    ok = isinstance(value, list) and all(
        v is None or (nested and isinstance(v, list)) or (isinstance(v, int) and not isinstance(v, bool) and v >= 1)
        for v in value)
    if not ok:
        raise ConfigRefusal(f"its config.json does not add up: {what} is {str(value)[:200]}")
    return [_list(v, what) if isinstance(v, list) else v for v in value]


def _refs(value) -> list[tuple[str, int, int]]:
    """``input_layers`` or ``output_layers``: one ``[name, node, tensor]`` or a list of them."""
    items = [value] if isinstance(value, list) and value and isinstance(value[0], str) else value
    if not isinstance(items, list) or not items:
        raise ConfigRefusal("its config.json does not add up: a model with no inputs or no outputs")
    return [_ref(item) for item in items]


def _ref(item) -> tuple[str, int, int]:
    if (not isinstance(item, list) or len(item) != 3 or not isinstance(item[0], str)
            or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in item[1:])):
        raise ConfigRefusal(f"its config.json does not add up: {item!r} does not name a layer's output")
    return item[0], item[1], item[2]


def _node_inputs(node, layer: str) -> list[tuple[str, int, int]]:
    """The ``(layer, node, tensor)`` each input of one call comes from, in order; refuses anything else in the call."""
    if not isinstance(node, dict) or not isinstance(node.get("args"), list) or not isinstance(node.get("kwargs", {}), dict):
        raise ConfigRefusal(f"its config.json does not add up: a call of layer {layer!r} is not in the Keras 3 form")
    refs: list[tuple[str, int, int]] = []
    _collect(node["args"], refs, layer)
    kwargs: list = []
    _collect(node.get("kwargs", {}), kwargs, layer)
    if kwargs:
        raise ConfigRefusal(f"its config.json does not add up: layer {layer!r} is given tensors by keyword")
    return refs


def _collect(value, refs: list, layer: str) -> None:
    if isinstance(value, list):
        for v in value:
            _collect(v, refs, layer)
    elif isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = _dict(value.get("config"), "a tensor").get("keras_history")
            if history is None:
                raise ConfigRefusal(f"its config.json does not add up: layer {layer!r} is called on a tensor that "
                                    f"comes from no layer")
            refs.append(_ref(history))
        elif "class_name" in value:
            raise ConfigRefusal(f"its config.json does not add up: layer {layer!r} is called on a "
                                f"{value.get('class_name')!r}")
        else:
            for v in value.values():
                _collect(v, refs, layer)
