"""Distillation training: data batching, the trainer, checkpoints and the ``train`` command."""

from .checkpoint import CheckpointMismatchError, load_checkpoint_model, save_checkpoint
from .trainer import TrainConfig, evaluate_graphs, train

__all__ = ["CheckpointMismatchError", "TrainConfig", "evaluate_graphs", "load_checkpoint_model", "save_checkpoint", "train"]
