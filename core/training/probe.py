"""What a run keeps for its replay: the first convolution's filters and one test image's feature maps,
at the start and after every epoch (the Train page's "How the first layer learned")."""

from __future__ import annotations

import numpy as np

from core.training.progress import Snapshot

MAPS_KEPT = 32  # feature maps kept per conv layer and epoch: the replay shows at most this many


class ProbeRecorder:
    """Records ``Snapshot``s of one model in training, for the image ``probe`` (height, width, channels).

    The model of the conv layers' outputs is built once a run, on the first record: it shares the
    trained model's weights, so each later record reads them as they are then.
    """

    def __init__(self, probe: np.ndarray):
        self.probe = np.asarray(probe, np.float32)
        self.snapshots: list[Snapshot] = []
        self._maps_model = None  # (the model it was built for, a model of that model's conv outputs)

    def record(self, model, epoch: int) -> None:
        """Keep the first conv layer's filters and the probe's conv maps after ``epoch`` epochs (0: the start).

        A model without conv layers has nothing to replay: nothing is kept.
        """
        from core.inspection.layers import conv_layers

        convs = conv_layers(model)
        if not convs:
            return
        if self._maps_model is None or self._maps_model[0] is not model:
            import keras

            inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
            self._maps_model = (model, keras.Model(inputs, [layer.output for layer in convs]))
        outputs = self._maps_model[1](self.probe[None], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        maps = {layer.name: np.asarray(out)[0][..., :MAPS_KEPT] for layer, out in zip(convs, outputs)}
        self.snapshots.append(Snapshot(epoch, np.array(convs[0].get_weights()[0]), maps))
