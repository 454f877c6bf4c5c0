"""Starting runs: a new network built from a spec, or a copy of a trained one trained further.

Both return the started ``core.training.jobs.TrainingJob``; the pages (``ui.runs``), the face
enrolment and the tests start their runs here.
"""

from __future__ import annotations

from core.storage.card import ModelCard
from core.training.config import TrainConfig
from core.training.jobs import TrainingJob


def copy_model(model):
    """A trainable copy of ``model`` with the same weights (the original is left untouched)."""
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def new_run(spec, dataset, config: TrainConfig, name: str, **job_options) -> TrainingJob:
    """Build ``spec``'s network for ``dataset`` (weights seeded by ``config.seed``) and start training it.

    Args:
        spec: a ``core.models.architecture.ModelSpec``.
        dataset: the data; the network takes its input shape and has one output per class.
        config: hyperparameters.
        name: the model's display name.
        **job_options: ``TrainingJob``'s other arguments (``private``, ``face_margin``, ``queue``...).

    Returns:
        The started job.
    """
    from core.models.architecture import build_model

    model = build_model(spec, dataset.input_shape, dataset.num_classes, seed=config.seed)
    return TrainingJob(model, dataset, config, name=name, spec=spec.to_dict(), **job_options).start()


def continue_run(model, card: ModelCard, model_id: str | None, dataset, config: TrainConfig,
                 **job_options) -> TrainingJob:
    """Train a copy of ``model`` further on ``dataset``; ``model`` itself is left as it is.

    The new model is named after its parent and its epochs since the random start
    (``shapes_cnn@25ep``), and its card names the parent (``card``, whose id is ``model_id``).

    Returns:
        The started job.
    """
    total = (card.epochs_total or card.epochs_done or 0) + config.epochs
    name = f"{card.name.split('@')[0]}@{total}ep"
    return TrainingJob(copy_model(model), dataset, config, name=name, spec=card.spec, parent=card,
                       parent_id=model_id, **job_options).start()


def transfer_run(backbone_key: str, dataset, config: TrainConfig, name: str, grey_to_colour: bool = False,
                 **job_options) -> TrainingJob:
    """Start training a new head on a backbone's frozen features (``core.models.backbones``), fine-tuning its last
    blocks later in the run when ``config.fine_tune_blocks`` says so.

    The card of the model it makes says which backbone it started from and which layers were frozen
    (``card.extra["transfer"]``), so the Filters page can show them unchanged.

    Raises:
        BackboneError: photos the backbone cannot take (grey ones without ``grey_to_colour``), or a network over
            the limit of weights a model may have.
        NetworkError: an ImageNet backbone whose weights are missing, or over the memory limit for them.
        KeyError: no such backbone.
    """
    from core.models.backbones import BACKBONES, build_transfer_model, frozen_layers, tuning_blocks

    backbone = BACKBONES[backbone_key]
    model = build_transfer_model(backbone.load(), backbone.feature_layer, dataset.input_shape, dataset.num_classes,
                                 seed=config.seed, name=name, grey_to_colour=grey_to_colour, network=backbone.network)
    blocks = tuning_blocks(model, backbone.feature_layer)
    extra = {"transfer": {"backbone": backbone.key, "title": backbone.title, "feature_layer": backbone.feature_layer,
                          "frozen": frozen_layers(model), "blocks": len(blocks),
                          "fine_tune_blocks": config.fine_tune_blocks, "fine_tune_from": config.fine_tune_from}}
    return TrainingJob(model, dataset, config, name=name, card_extra=extra, **job_options).start()
