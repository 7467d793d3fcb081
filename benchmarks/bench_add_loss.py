"""ADD loss forward + backward, vectorised against a loop over anchors; AST and BEATs forward time on CPU.

    python -m benchmarks.run add_loss

Rows:

- ``add_loss: fwd+bwd``: :class:`~workbench.losses.ADDLoss` (one ``(B, B)`` distance matrix and
  masked moments) against :func:`add_loss_loop` (what one writes first: each anchor's distances in
  turn; goal: faster, ratio <= 1; batches of 32 and 256) and against :func:`gram_floor` (normalise,
  one ``z @ z.T``, a sum: the least a pairwise loss does; goal <= 2), for batches of 32, 256 and 1024
  embeddings of dimension 768 over 50 classes (ESC-50's), one thread, interleaved rounds. The quick
  run skips 1024.
- ``add_loss: memory``: of the vectorised loss, bytes of the tensors autograd keeps for the backward pass (on CPU; Python's
  ``tracemalloc`` does not see torch's allocator), or the peak CUDA memory of forward + backward
  when a GPU is present.
- ``add_loss: loop - vectorised``: the largest difference of the two losses (a sanity check, ~1e-7).
- ``encoder forward (CPU)``: one clip of 1 s and of 10 s through AST and BEATs, tiny and base (the
  paper's size; the quick run times the tiny ones only), in eval mode without gradients. AST's
  positional grid is set to the clip's frame count (``set_input_frames``), as for fine-tuning.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from benchmarks.timing import compared_row, interleaved, row
from workbench.losses import ADDLoss
from workbench.models.ast import ASTConfig, AudioSpectrogramTransformer
from workbench.models.beats import BEATs, BEATsConfig

DIM = 768
CLASSES = 50
SAMPLE_RATE = 16000


def add_loss_loop(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """ADD {1,1,1,1} written anchor by anchor: the straightforward implementation the vectorised one replaces."""
    unit = F.normalize(embeddings, dim=1)
    same_class, other_class = [], []
    for anchor in range(len(unit)):
        distance = 1 - unit @ unit[anchor]  # (B,) cosine distances from this anchor
        same = labels == labels[anchor]
        same[anchor] = False
        same_class.append(distance[same] ** 2)
        other_class.append((1 - distance[labels != labels[anchor]]) ** 2)
    positives, negatives = torch.cat(same_class), torch.cat(other_class)
    return positives.mean() + positives.std() + negatives.mean() + negatives.std()


def _batch(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(size)
    embeddings = torch.randn(size, DIM, generator=generator).to(device)
    labels = torch.randint(0, CLASSES, (size,), generator=generator).to(device)
    return embeddings.requires_grad_(True), labels


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_seconds(function: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Best of ``repeats`` timed calls after one warm-up call (the best is the least disturbed)."""
    function()
    best = math.inf
    for _ in range(repeats):
        _synchronise(device)
        start = time.perf_counter()
        function()
        _synchronise(device)
        best = min(best, time.perf_counter() - start)
    return best


def _memory_bytes(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], size: int,
                  device: torch.device) -> float:  # fmt: skip
    """Peak CUDA memory of forward + backward above the inputs, or (CPU) bytes saved for backward."""
    embeddings, labels = _batch(size, device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
        loss_fn(embeddings, labels).backward()
        torch.cuda.synchronize(device)
        return float(torch.cuda.max_memory_allocated(device) - baseline)
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()  # a storage saved twice is held once
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = loss_fn(embeddings, labels)
    loss.backward()
    saved.pop(embeddings.untyped_storage().data_ptr(), None)  # the input exists anyway
    return float(sum(saved.values()))


def gram_floor(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The least any pairwise-cosine loss does: normalise, one ``z @ z.T``, a sum (the floor ADD is timed against)."""
    unit = F.normalize(embeddings, dim=1)
    return (unit @ unit.T).sum()


def _loss_rows(quick: bool, device: torch.device) -> list[dict]:
    vectorised = ADDLoss()
    implementations = {"vectorised": vectorised, "loop over anchors": add_loss_loop, "bare z @ z.T": gram_floor}
    memory_name = "add_loss: peak CUDA memory" if device.type == "cuda" else "add_loss: memory saved for backward"
    rounds = 5 if quick else 7
    rows = []
    for size in (32, 256, 1024):
        if quick and size == 1024:
            continue
        setting = f"batch {size} x {DIM}-d, {CLASSES} classes, {device.type}, 1 thread"
        embeddings, labels = _batch(size, device)
        timed = {name: implementations[name] for name in implementations if not (name == "loop over anchors" and size > 256)}

        def forward_backward(loss_fn) -> Callable[[], None]:
            def step() -> None:
                embeddings.grad = None
                loss_fn(embeddings, labels).backward()
                _synchronise(device)

            return step

        seconds = interleaved({name: forward_backward(loss_fn) for name, loss_fn in timed.items()}, rounds)
        if "loop over anchors" in seconds:
            rows.append(compared_row("add_loss: fwd+bwd", setting, seconds, "vectorised", "loop over anchors", goal=1.0))
        rows.append(compared_row("add_loss: fwd+bwd", setting, seconds, "vectorised", "bare z @ z.T", goal=2.0,
                                 note="per-op overhead: a dozen small ops against one matmul at small batches"))  # fmt: skip
        rows.append(row(memory_name, f"vectorised, {setting}", _memory_bytes(vectorised, size, device) / 2**20, "MiB"))
        if size <= 256:
            with torch.no_grad():
                difference = (vectorised(embeddings, labels) - add_loss_loop(embeddings, labels)).abs().item()
            rows.append(row("add_loss: loop - vectorised", setting, difference, "abs"))
    return rows


def _encoders(quick: bool) -> dict[str, Callable[[], torch.nn.Module]]:
    models: dict[str, Callable[[], torch.nn.Module]] = {
        "ast-tiny": lambda: AudioSpectrogramTransformer(ASTConfig.tiny()),
        "beats-tiny": lambda: BEATs(BEATsConfig.tiny()),
    }
    if not quick:
        models["ast (ViT-Base)"] = lambda: AudioSpectrogramTransformer(ASTConfig())
        models["beats (iter3+)"] = lambda: BEATs(BEATsConfig.iter3_plus())
    return models


def _encoder_rows(quick: bool) -> list[dict]:
    rows = []
    for name, build in _encoders(quick).items():
        model = build().eval()
        for seconds in (1.0, 10.0):
            waveform = 0.1 * torch.randn(1, int(seconds * SAMPLE_RATE), generator=torch.Generator().manual_seed(0))
            if isinstance(model, AudioSpectrogramTransformer):
                model.set_input_frames(1 + (waveform.shape[1] - model.frontend.min_samples) // 160)
            with torch.no_grad():
                elapsed = _best_seconds(lambda model=model, waveform=waveform: model(waveform), 1 if quick else 3,
                                        torch.device("cpu"))  # fmt: skip
            rows.append(row("encoder forward (CPU)", f"{name}, batch 1, {seconds:g} s clip, 1 thread",
                            elapsed * 1e3, "ms"))  # fmt: skip
    return rows


def run(quick: bool = False) -> list[dict]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return _loss_rows(quick, device) + _encoder_rows(quick)


if __name__ == "__main__":
    for row in run():
        print(row)
