"""DDP with a module whose forward leaves parameters unused (care_sep's Init classifier trains one head of
a bigger network, issue 26): two gloo processes train it, keep replicas equal and leave the unused part
alone; a module that uses every parameter is rewrapped without the per-step search."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from workbench.train import RunDir
from workbench.train.distributed import DistributedContext, unwrap
from workbench.train.loop import Trainer, TrainConfig


class _TwoHeads(nn.Module):
    """A body with two heads; the step trains through ``first`` only, as tag_logits does."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Linear(5, 8)
        self.first = nn.Linear(8, 1)
        self.second = nn.Linear(8, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.first(torch.tanh(self.body(inputs))).squeeze(1)


def _step(model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
    inputs, targets = batch
    return nn.functional.mse_loss(model(inputs), targets), {}


def _worker(rank: int, port: int, out_dir: str, skip_second: bool) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))  # fmt: skip
    torch.set_num_threads(1)
    context = DistributedContext(device="cpu")
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(32, 5, generator=generator)
    dataset = TensorDataset(inputs, inputs.sum(dim=1))
    loader = DataLoader(dataset, batch_size=4, sampler=context.sampler(dataset, shuffle=False))
    model = _TwoHeads()
    if not skip_second:
        model.second = nn.Identity()  # every parameter takes part
    run_dir = RunDir.open("ddp-unused", {"skip": skip_second}, root=Path(out_dir) / "runs")
    trainer = Trainer(model, _step, TrainConfig(epochs=2, optimizer="sgd", lr=0.05, seed=0), run_dir=run_dir,
                      context=context, progress=False)  # fmt: skip
    trainer.fit(loader)
    torch.save({"weights": unwrap(trainer.training_model).state_dict(),
                "find_unused": trainer.training_model.find_unused_parameters}, Path(out_dir) / f"rank{rank}.pt")  # fmt: skip
    context.destroy()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _log_rows(root: Path, event: str) -> list[dict]:
    (log,) = root.glob("runs/ddp-unused/*/log.jsonl")
    return [row for row in map(json.loads, log.read_text().splitlines()) if row["event"] == event]


def test_unused_parameters_train_under_two_gloo_processes(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path), True), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(2))
    for name, tensor in rank0["weights"].items():
        assert torch.equal(tensor, rank1["weights"][name]), f"replicas differ in {name}"
    initial = _TwoHeads().state_dict()
    assert torch.equal(rank0["weights"]["second.weight"], initial["second.weight"])  # never used, never moved
    assert not torch.equal(rank0["weights"]["first.weight"], initial["first.weight"])
    assert rank0["find_unused"] is True
    assert _log_rows(tmp_path, "ddp_unused_parameters")[0]["unused"] == 2  # second.weight and second.bias


def test_a_module_using_every_parameter_drops_the_search_after_the_first_step(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path), False), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(2))
    for name, tensor in rank0["weights"].items():
        assert torch.equal(tensor, rank1["weights"][name]), f"replicas differ in {name}"
    assert rank0["find_unused"] is False
    assert _log_rows(tmp_path, "ddp_unused_parameters")[0]["unused"] == 0
