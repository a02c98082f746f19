"""Distillation training up to a checkpoint: data batching, the trainer, checkpoint writing
and the ``train`` command."""

from .checkpoint import save_checkpoint
from .trainer import TrainConfig, evaluate_graphs, train

__all__ = ["TrainConfig", "evaluate_graphs", "save_checkpoint", "train"]
