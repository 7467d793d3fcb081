"""ADDLoss against a brute-force reference written from the paper's set definitions with loops over pairs."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
import torch.nn.functional as F
from loss_helpers import BATCH_SIZES, DTYPES, random_batch

from workbench.losses import ADDLoss


def _unit_rows(matrix: torch.Tensor) -> list[list[float]]:
    rows = matrix.double().tolist()
    return [[value / math.sqrt(sum(v * v for v in row)) for value in row] for row in rows]


def _cosine_distance(x: list[float], y: list[float]) -> float:
    return 1.0 - sum(a * b for a, b in zip(x, y, strict=True))


def _mean_and_std(values: list[float]) -> tuple[float, float]:
    """The documented small-set convention: empty -> (0, 0); one element -> (value, 0); else unbiased."""
    if not values:
        return 0.0, 0.0
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def reference_hard_moments(embeddings: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """The four moments from D_p = {d^2 : same class} and D_n = {(1 - d)^2 : different}, ordered pairs i != j."""
    unit, classes = _unit_rows(embeddings), labels.tolist()
    positives, negatives = [], []
    for i in range(len(unit)):
        for j in range(len(unit)):
            if i == j:
                continue
            distance = _cosine_distance(unit[i], unit[j])
            if classes[i] == classes[j]:
                positives.append(distance**2)
            else:
                negatives.append((1.0 - distance) ** 2)
    (mu_p, sigma_p), (mu_n, sigma_n) = _mean_and_std(positives), _mean_and_std(negatives)
    return {"mu_p": mu_p, "sigma_p": sigma_p, "mu_n": mu_n, "sigma_n": sigma_n, "n_p": len(positives), "n_n": len(negatives)}


def reference_soft_moments(embeddings: torch.Tensor, soft_labels: torch.Tensor, tolerance: float = 1e-3) -> dict[str, float]:
    """L_mu over ordered pairs i != j, and the std of the squared errors of same-label pairs."""
    unit, unit_labels = _unit_rows(embeddings), _unit_rows(soft_labels)
    errors, same_label_errors = [], []
    for i in range(len(unit)):
        for j in range(len(unit)):
            if i == j:
                continue
            label_distance = _cosine_distance(unit_labels[i], unit_labels[j])
            error = (label_distance - _cosine_distance(unit[i], unit[j])) ** 2
            errors.append(error)
            if label_distance < tolerance:
                same_label_errors.append(error)
    return {"l_mu": _mean_and_std(errors)[0], "sigma_p": _mean_and_std(same_label_errors)[1]}


def _tolerances(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("form", ["paper", "official"])
def test_hard_labels_match_the_loop_of_each_forms_definition(form, batch, dtype, seed):
    """``form="paper"`` against the brute-force Eq. 1-4, ``form="official"`` against a loop of the official
    code's definition: every moment, and the weighted total."""
    reference = {"paper": reference_hard_moments, "official": reference_official_moments}[form]
    embeddings, labels = random_batch(batch, classes=3, dtype=dtype, seed=seed)
    weights = {"mu_p": 0.7, "sigma_p": 1.3, "mu_n": 2.0, "sigma_n": 0.4}
    loss = ADDLoss(**weights, form=form)
    expected = reference(embeddings, labels)
    moments = loss.moments(embeddings, labels)
    for name in weights:
        torch.testing.assert_close(moments[name], torch.tensor(expected[name], dtype=dtype), **_tolerances(dtype))
    value = loss(embeddings, labels)
    assert value.dtype == dtype and value.shape == ()
    total = sum(weight * expected[name] for name, weight in weights.items())
    torch.testing.assert_close(value, torch.tensor(total, dtype=dtype), **_tolerances(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_soft_labels_match_the_brute_force_reference(batch, dtype):
    embeddings, labels = random_batch(batch, classes=4, dtype=dtype, seed=3)
    generator = torch.Generator().manual_seed(4)
    # Mixup targets, with one exact duplicate label vector so the same-label set is not empty.
    partners = torch.randint(0, 4, (batch,), generator=generator)
    lam = torch.rand(batch, 1, generator=generator, dtype=torch.float64)
    soft = (lam * F.one_hot(labels, 4) + (1 - lam) * F.one_hot(partners, 4)).to(dtype)
    if batch > 1:
        soft[1] = soft[0]
    loss = ADDLoss(sigma_p=0.5, mu=2.0)
    expected = reference_soft_moments(embeddings, soft)
    moments = loss.moments(embeddings, soft)
    torch.testing.assert_close(moments["l_mu"], torch.tensor(expected["l_mu"], dtype=dtype), **_tolerances(dtype))
    torch.testing.assert_close(moments["sigma_p"], torch.tensor(expected["sigma_p"], dtype=dtype), **_tolerances(dtype))
    torch.testing.assert_close(
        loss(embeddings, soft), torch.tensor(2.0 * expected["l_mu"] + 0.5 * expected["sigma_p"], dtype=dtype),
        **_tolerances(dtype),
    )  # fmt: skip


@pytest.mark.parametrize("batch", [2, 5, 16])
def test_with_hard_labels_l_mu_is_the_pair_weighted_combination_of_mu_p_and_mu_n(batch):
    """The paper's remark: with one-hot labels L_mu = (|D_p| mu_p + |D_n| mu_n) / (|D_p| + |D_n|)."""
    embeddings, labels = random_batch(batch, classes=3, seed=5)
    one_hot = F.one_hot(labels, 3).double()
    hard = ADDLoss().moments(embeddings, labels)
    soft = ADDLoss(labels="soft").moments(embeddings, one_hot)
    reference = reference_hard_moments(embeddings, labels)
    n_p, n_n = reference["n_p"], reference["n_n"]
    assert n_p + n_n == batch * (batch - 1)  # ordered pairs i != j
    torch.testing.assert_close(soft["l_mu"], (n_p * hard["mu_p"] + n_n * hard["mu_n"]) / (n_p + n_n))
    torch.testing.assert_close(soft["sigma_p"], hard["sigma_p"])
    # So with lambda_mu^p = lambda_mu^n and lambda_sigma^n = 0 the soft loss on one-hot labels is that combination.
    torch.testing.assert_close(
        ADDLoss(mu_p=1.5, mu_n=1.5, sigma_p=0.3, sigma_n=0.0, labels="soft")(embeddings, one_hot),
        1.5 * soft["l_mu"] + 0.3 * hard["sigma_p"],
    )


def test_perfect_geometry_has_zero_loss_and_scale_does_not_matter():
    """Same class: identical directions; different classes: orthogonal. Every moment is 0, at any scale."""
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    embeddings = torch.eye(3, dtype=torch.float64)[labels] * torch.tensor([[1.0], [5.0], [2.0], [0.1], [3.0], [7.0]])
    assert ADDLoss()(embeddings, labels).item() == pytest.approx(0.0, abs=1e-12)
    assert ADDLoss()(embeddings, F.one_hot(labels).double()).item() == pytest.approx(0.0, abs=1e-12)
    random_embeddings, random_labels = random_batch(8, seed=9)
    scales = torch.rand(8, 1, dtype=torch.float64) + 0.5
    torch.testing.assert_close(
        ADDLoss()(random_embeddings * scales, random_labels), ADDLoss()(random_embeddings, random_labels)
    )


def test_small_sets_are_defined_without_nan():
    one = torch.randn(1, 4)
    assert ADDLoss()(one, torch.tensor([0])).item() == 0.0  # no pair at all
    distinct = ADDLoss().moments(torch.randn(4, 4), torch.arange(4))
    assert distinct["mu_p"].item() == 0.0 and distinct["sigma_p"].item() == 0.0  # empty D_p
    single_class = ADDLoss().moments(torch.randn(4, 4), torch.zeros(4, dtype=torch.long))
    assert single_class["mu_n"].item() == 0.0 and single_class["sigma_n"].item() == 0.0  # empty D_n
    # A same-class pair seen from both sides is two equal values: a mean, and zero spread.
    pair = torch.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    moments = ADDLoss().moments(pair, torch.tensor([0, 0]))
    assert moments["mu_p"].item() == pytest.approx((1 - 2**-0.5) ** 2)
    assert moments["sigma_p"].item() == 0.0


def test_gradients_are_finite_on_degenerate_batches(degenerate_batch):
    embeddings, labels = degenerate_batch
    for loss in (ADDLoss(), ADDLoss(mu_p=0.0, mu_n=0.0)):  # the std terms alone, the riskiest ones
        for targets in (labels, F.one_hot(labels, 6).float()):
            embeddings.grad = None
            value = loss(embeddings, targets)
            value.backward()
            assert torch.isfinite(value), (loss, targets)
            assert embeddings.grad is not None and torch.isfinite(embeddings.grad).all(), (loss, targets)


def test_gradient_matches_finite_differences():
    embeddings, labels = random_batch(6, dim=4, classes=2, seed=11)
    embeddings.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: ADDLoss(0.5, 1.0, 2.0, 0.7)(x, labels), (embeddings,))


def test_half_precision_embeddings_are_computed_in_float32():
    embeddings, labels = random_batch(8, seed=2)
    value = ADDLoss()(embeddings.bfloat16(), labels)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, ADDLoss()(embeddings.bfloat16().float(), labels))


def test_errors_say_what_is_expected():
    embeddings, labels = random_batch(4)
    expected = r"expects embeddings \(batch, dim\) and labels \(batch,\) integers.*got embeddings \(4, 6, 1\)"
    with pytest.raises(ValueError, match=expected):
        ADDLoss()(embeddings[..., None], labels)
    with pytest.raises(ValueError, match=r"got embeddings \(4, 6\) and labels \(3,\)"):
        ADDLoss()(embeddings, labels[:3])
    with pytest.raises(ValueError, match=r"\(batch,\) labels of dtype torch.float64 \(use integer class indices\)"):
        ADDLoss()(embeddings, labels.double())
    with pytest.raises(ValueError, match="soft labels must be finite, non-negative"):
        ADDLoss()(embeddings, -F.one_hot(labels).double())
    with pytest.raises(ValueError, match=r"mu_p \(2.0\) and mu_n \(1.0\) differ: pass ADDLoss\(..., mu=<weight of L_mu>\)"):
        ADDLoss(mu_p=2.0)(embeddings, F.one_hot(labels).double() * 0.8 + 0.05)
    with pytest.raises(ValueError, match=r"labels='soft'\) needs \(batch, classes\) label vectors"):
        ADDLoss(labels="soft")(embeddings, labels)
    with pytest.raises(ValueError, match=r"form must be one of \['paper', 'official'\], got 'paperz'"):
        ADDLoss(form="paperz")
    with pytest.raises(ValueError, match=r"labels must be one of \['auto', 'hard', 'soft'\]"):
        ADDLoss(labels="onehot")
    with pytest.raises(ValueError, match="sigma_n must be a finite number >= 0, got -1"):
        ADDLoss(sigma_n=-1)


# --------------------------------------------------------------------------------------------------
# The official code's formulation, and one-hot labels


def reference_official_moments(embeddings: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """The official ``stats_angle_old.py`` moments with loops: (mean d_intra)^2, std(d_intra),
    (1 - mean d_inter)^2, std(d_inter) over the unsquared cosine distances of ordered pairs i != j."""
    unit, classes = _unit_rows(embeddings), labels.tolist()
    intra, inter = [], []
    for i in range(len(unit)):
        for j in range(len(unit)):
            if i != j:
                (intra if classes[i] == classes[j] else inter).append(_cosine_distance(unit[i], unit[j]))
    (mean_p, sigma_p), (mean_n, sigma_n) = _mean_and_std(intra), _mean_and_std(inter)
    return {"mu_p": mean_p**2 if intra else 0.0, "sigma_p": sigma_p,
            "mu_n": (1.0 - mean_n) ** 2 if inter else 0.0, "sigma_n": sigma_n}  # fmt: skip


def reference_official_soft(embeddings: torch.Tensor, soft_labels: torch.Tensor) -> float:
    """The official soft ``stats_angle.py``: the squared errors averaged over all B^2 entries (zero diagonal)."""
    unit, unit_labels = _unit_rows(embeddings), _unit_rows(soft_labels)
    total = 0.0
    for i in range(len(unit)):
        for j in range(len(unit)):
            if i != j:
                total += (_cosine_distance(unit_labels[i], unit_labels[j]) - _cosine_distance(unit[i], unit[j])) ** 2
    return total / len(unit) ** 2


def test_official_soft_form_matches_a_loop_of_its_own_definition():
    embeddings, labels = random_batch(7, classes=4, seed=12)
    lam = torch.linspace(0.2, 0.9, 7, dtype=torch.float64)[:, None]
    soft = lam * F.one_hot(labels, 4) + (1 - lam) * F.one_hot((labels + 1) % 4, 4)
    value = ADDLoss(mu=1.7, form="official")(embeddings, soft)
    torch.testing.assert_close(value, torch.tensor(1.7 * reference_official_soft(embeddings, soft), dtype=torch.float64))


def test_the_two_forms_differ_on_every_term_and_agree_at_the_ideal_geometry():
    embeddings, labels = random_batch(16, classes=3, seed=4)
    paper = ADDLoss(form="paper").moments(embeddings, labels)
    official = ADDLoss(form="official").moments(embeddings, labels)
    for name in ("mu_p", "sigma_p", "mu_n", "sigma_n"):
        assert abs(paper[name].item() - official[name].item()) > 1e-3, name
    ideal_labels = torch.tensor([0, 0, 1, 1, 2, 2])
    ideal = torch.eye(3, dtype=torch.float64)[ideal_labels] * 2.0
    assert ADDLoss(form="official")(ideal, ideal_labels).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("form", ["paper", "official"])
def test_one_hot_labels_give_the_hard_value(form):
    """(B, C) one-hot rows are read as the hard labels they are, not through the soft formula."""
    embeddings, labels = random_batch(12, classes=3, seed=6)
    one_hot = F.one_hot(labels, 3).double()
    hard = ADDLoss(form=form)(embeddings, labels)
    torch.testing.assert_close(ADDLoss(form=form)(embeddings, one_hot), hard)
    torch.testing.assert_close(ADDLoss(form=form, labels="hard")(embeddings, one_hot), hard)
    # Forcing the soft formula on the same labels gives another value: the switch is explicit only.
    assert abs(ADDLoss(form=form, labels="soft")(embeddings, one_hot).item() - hard.item()) > 1e-3
    # One mixed row makes the batch soft; labels="hard" reduces it to its dominant class.
    mixed = one_hot.clone()
    mixed[0] = mixed[0] * 0.7 + 0.1
    torch.testing.assert_close(ADDLoss(form=form, labels="soft")(embeddings, mixed), ADDLoss(form=form)(embeddings, mixed))
    torch.testing.assert_close(ADDLoss(form=form, labels="hard")(embeddings, mixed), hard)
