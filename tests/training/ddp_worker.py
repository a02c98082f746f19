"""Run by torchrun in test_ddp: gradients of one global batch, sharded over the ranks."""

import sys

import torch
import torch.distributed as dist

from pair_student.models import build_student
from pair_student.training.data import frames_to_graphs, read_frames
from pair_student.training.trainer import TrainConfig, batch_loss, counts_of, train
from pair_student.training.data import collate


def main(dataset, out):
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    cfg = TrainConfig(dataset=dataset, out=out)
    graphs = frames_to_graphs(read_frames(dataset, "train"), 4.0, ["Al", "Cu"], dtype=torch.float64)
    model = build_student({"architecture": "local", "elements": ["Al", "Cu"], "cutoff": 4.0,
                           "channels": 6, "radial_hidden": 12, "hidden": 16}).double()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    loss, _ = batch_loss(ddp, collate(graphs[rank::world]), cfg, counts_of(graphs), world)
    loss.backward()
    if rank == 0:
        torch.save({k: p.grad for k, p in model.named_parameters()}, f"{out}/ddp_grads.pt")
    # the trainer itself under torchrun: two epochs, checkpoint written by rank 0
    train(TrainConfig(dataset=dataset, out=out, name="ddp", preset=None, cutoff=4.0, epochs=2, batch_size=4,
                      model_kwargs={"channels": 6, "radial_hidden": 12, "hidden": 16}, progress=False))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
