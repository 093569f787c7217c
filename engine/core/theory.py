"""What the notebook leaves out, computed from the data in float64.

The loss does not go to zero: it goes to the least-squares optimum of the
affine model.  And gradient descent with a step ε on a quadratic converges only
when ε < 2/L, L the largest eigenvalue of the loss's Hessian: past it, the
iterates oscillate with a growing amplitude and the loss blows up.  Under it,
the gap to the optimum shrinks by ρ² per iteration, ρ = max |1 − ε λᵢ|
(:func:`contraction`): a straight line on a log scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.core.finite import finite_or_none
from engine.i18n import _


@dataclass(frozen=True)
class Theory:
    optimal_loss: float
    """The smallest MSE an affine model X W + b can reach on this data."""
    lr_max: float
    """2 / L: full-batch gradient descent diverges for any larger learning rate."""
    condition_number: float
    """L / λ_min of the Hessian: how elongated the valley is (inf when it is flat somewhere)."""
    W_star: np.ndarray
    b_star: np.ndarray
    hessian_eigenvalues: np.ndarray = field(default_factory=lambda: np.empty(0))
    """The eigenvalues of 2/(n m) X̃ᵀX̃, ascending: the Hessian of the MSE in (W, b) has each
    of them m times (once per output column, which the loss treats alike)."""

    def to_dict(self) -> dict[str, float | None]:
        """The three figures, JSON-ready (a non-finite one becomes null)."""
        return {
            name: finite_or_none(value)
            for name, value in (
                ("optimal_loss", self.optimal_loss),
                ("lr_max", self.lr_max),
                ("condition_number", self.condition_number),
            )
        }

    def distance(self, W: np.ndarray, b: np.ndarray) -> float:
        """‖(W, b) − (W*, b*)‖, the Frobenius distance to the optimum."""
        return distance(W, b, self.W_star, self.b_star)


def threshold_note(threshold: float, optimum: float) -> str | None:
    """Said when a run converged on a threshold well above the optimum (the notebook's 0.70
    sits just over the toy problem's 0.6971; on other data it may be far above)."""
    if not threshold > 1.05 * optimum + 1e-12:
        return None
    if math.isinf(threshold):
        return _(
            "converged at once: any loss is at or under the threshold {threshold:g} (the optimum is {optimum:.6g}): a finite threshold gets closer to it"
        ).format(threshold=threshold, optimum=optimum)
    ratio = threshold / optimum if optimum > 0 else math.inf
    # An optimum of 0 (a constant or exactly fitted target) has no ratio to show.
    above = (
        _("{ratio:.3g}× the optimum {optimum:.6g}").format(ratio=ratio, optimum=optimum)
        if math.isfinite(ratio)
        else _("above the optimum {optimum:.6g}").format(optimum=optimum)
    )
    return _(
        "converged because the loss reached the threshold {threshold:g}, still {above}: a lower threshold gets closer to it"
    ).format(threshold=threshold, above=above)


def distance(W: np.ndarray, b: np.ndarray, W_to: np.ndarray, b_to: np.ndarray) -> float:
    """‖(W, b) − (W_to, b_to)‖, the Frobenius distance between two sets of parameters."""
    return float(math.sqrt(np.sum((W - W_to) ** 2) + np.sum((b - b_to) ** 2)))


# Above this many entries in X̃, the optimum comes from the normal equations, accumulated
# a block of rows at a time: a float64 copy of a large X for lstsq would cost more
# memory than the data itself.
DIRECT_MAX_ENTRIES = 1 << 22
BLOCK_ROWS = 1 << 15


def theory_of(
    X: torch.Tensor, Y: torch.Tensor, between_blocks: Callable[[], None] | None = None
) -> Theory:
    """The optimum and the stability bound of the MSE of an affine model on inputs X, targets Y.

    On large data (read a block of rows at a time) ``between_blocks()`` is called between
    two blocks: a cancellation point for a caller that stops by raising there.
    """
    X, Y = X.detach(), Y.detach()
    n, d = X.shape
    m = Y.shape[1]
    if n * (d + 1) <= DIRECT_MAX_ENTRIES:
        X_tilde = _with_ones(X)
        # gelsd handles a rank-deficient X̃ (more features than points, a constant column).
        solution = torch.linalg.lstsq(X_tilde, _double(Y), driver="gelsd").solution
        gram = X_tilde.T @ X_tilde
        optimal_loss = float(((X_tilde @ solution - _double(Y)) ** 2).sum() / (n * m))
    else:
        gram, moment = _normal_equations(X, Y, between_blocks)
        solution = torch.linalg.lstsq(gram, moment, driver="gelsd").solution
        # The residual itself, block by block: 1/n Σ‖x̃θ − y‖² from the Gram matrix alone
        # would lose digits to cancellation when the fit is nearly exact.
        squares = 0.0
        for s in range(0, n, BLOCK_ROWS):
            if between_blocks is not None:
                between_blocks()
            residual = _with_ones(X[s : s + BLOCK_ROWS]) @ solution - _double(Y[s : s + BLOCK_ROWS])
            squares += float((residual**2).sum())
        optimal_loss = squares / (n * m)
    # MSE = ‖X̃ Θ − Y‖² / (n m): its Hessian is 2/(n m) X̃ᵀX̃ for each output column.
    eigenvalues = torch.linalg.eigvalsh(gram * (2.0 / (n * m)))
    largest, smallest = float(eigenvalues[-1]), float(eigenvalues[0])
    # Eigenvalues under the round-off level of the largest are zero: the valley is flat there.
    flat = smallest <= largest * (d + 1) * np.finfo(np.float64).eps
    return Theory(
        optimal_loss=optimal_loss,
        lr_max=2.0 / largest if largest > 0 else math.inf,
        condition_number=math.inf if flat else largest / smallest,
        W_star=solution[:-1].numpy(),
        b_star=solution[-1:].numpy(),
        hessian_eigenvalues=eigenvalues.numpy(),
    )


def _double(t: torch.Tensor) -> torch.Tensor:
    return t.to("cpu", torch.float64)


def _with_ones(X: torch.Tensor) -> torch.Tensor:
    """[X, 1] in float64 on the CPU."""
    X = _double(X)
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=torch.float64)], dim=1)


def bound_applies(optimizer: str, batch_size: int | None, n: int | None = None) -> bool:
    """Whether "ε > 2/L diverges" holds for a run: plain gradient descent on the whole batch.

    The bound comes from the update W ← W − ε ∇L on a quadratic: past 2/L the step
    overshoots along the Hessian's steepest direction and grows each iteration.
    Momentum and Nesterov change the update (their own bounds are in
    :func:`stability_bound`), Adam scales each step by its own running averages, and a
    mini-batch's gradient is not the full loss's: the bound says nothing of those.
    A batch size of at least ``n`` is the whole batch; with ``n`` unknown, any
    batch size counts as mini-batches.
    """
    if optimizer != "sgd":
        return False
    return batch_size is None or (n is not None and batch_size >= n)


@dataclass(frozen=True)
class Bound:
    """The largest learning rate for which a run's optimizer is stable on the quadratic loss."""

    value: float
    name: str
    """How it is written: "2/L", "2(1+μ)/L", "2(1+μ)/((1+2μ)L)"."""


def stability_bound(
    lr_max: float | None,
    optimizer: str,
    batch_size: int | None,
    n: int | None = None,
    momentum: float | None = None,
) -> Bound | None:
    """The stability bound of a full-batch run of ``optimizer`` (None where none is known).

    On a quadratic with Hessian eigenvalues λ ≤ L, each eigen-direction of the error
    follows a linear recurrence; it shrinks for every λ exactly when ε is under:

    - plain gradient descent, e ← (1 − ελ) e: ε < 2/L (``lr_max``);
    - heavy-ball momentum μ as torch.optim.SGD writes it (v ← μv + g, θ ← θ − εv),
      whose roots stay in the unit circle while ελ < 2(1 + μ): ε < 2(1 + μ)/L;
    - Nesterov in torch's form (θ ← θ − ε(g + μv)): ελ < 2(1 + μ)/(1 + 2μ), so
      ε < 2(1 + μ)/((1 + 2μ)L).

    Adam scales each step by its own running averages and a mini-batch's gradient is
    not the full loss's: no bound is claimed for them.  A batch size of at least ``n``
    is the whole batch; with ``n`` unknown, any batch size counts as mini-batches.
    The one place this rule is written: the settings panel, the comparison table,
    the sweep and the headless runner all ask it.
    """
    if lr_max is None or not (batch_size is None or (n is not None and batch_size >= n)):
        return None
    if optimizer == "sgd":
        return Bound(lr_max, "2/L")
    if momentum is None:
        return None
    if optimizer == "momentum":
        return Bound(lr_max * (1 + momentum), "2(1+μ)/L")
    if optimizer == "nesterov":
        return Bound(lr_max * (1 + momentum) / (1 + 2 * momentum), "2(1+μ)/((1+2μ)L)")
    return None


def diverges(
    learning_rate: float,
    lr_max: float | None,
    optimizer: str,
    batch_size: int | None,
    n: int | None = None,
    momentum: float | None = None,
) -> bool | None:
    """Whether the run's stability bound says it diverges: True past it, False under it,
    None when no bound is known for the run (see :func:`stability_bound`)."""
    bound = stability_bound(lr_max, optimizer, batch_size, n, momentum)
    if bound is None:
        return None
    return learning_rate > bound.value


def theory_for_run(
    theory: Theory,
    optimizer: str,
    batch_size: int | None,
    n: int | None,
    momentum: float | None,
) -> dict[str, float | str | None]:
    """The theory's figures for one run, JSON-ready: ``lr_max`` is the stability bound of the
    run's optimizer (null where none is known), ``bound`` how it is written, and
    ``lr_max_sgd`` plain gradient descent's 2/L on these data."""
    out: dict[str, float | str | None] = dict(theory.to_dict())
    bound = stability_bound(theory.lr_max, optimizer, batch_size, n, momentum)
    out["lr_max"] = None if bound is None else finite_or_none(bound.value)
    out["bound"] = None if bound is None else bound.name
    out["lr_max_sgd"] = finite_or_none(theory.lr_max)
    return out


def predicted_losses(
    X: torch.Tensor,
    Y: torch.Tensor,
    W0: torch.Tensor,
    b0: torch.Tensor,
    learning_rates: np.ndarray | list[float] | tuple[float, ...],
    updates: np.ndarray | list[int] | tuple[int, ...],
) -> np.ndarray:
    """The loss of full-batch plain gradient descent after ``updates[k]`` updates at ε = ``learning_rates[k]``.

    Exact for the quadratic MSE (in float64): with H = 2/(n m) X̃ᵀX̃ = V diag(λ) Vᵀ
    (one block per output column) and e = Vᵀ(θ₀ − θ*) the start's error in its
    eigenbasis, one update multiplies eᵢ by (1 − ελᵢ), so after k updates

        loss = loss* + Σᵢⱼ λᵢ/2 · eᵢⱼ² · (1 − ελᵢ)^(2k).

    Infinite where the prediction overflows (the run diverges).
    """
    n, d = X.shape
    m = Y.shape[1]
    gram, moment = _normal_equations(X, Y)
    hessian = gram * (2.0 / (n * m))
    eigenvalues, vectors = torch.linalg.eigh(hessian)
    solution = torch.linalg.lstsq(gram, moment, driver="gelsd").solution
    start = torch.cat([_double(W0), _double(b0)], dim=0)
    error = vectors.T @ (start - solution)  # (d + 1, m)
    lam = np.maximum(eigenvalues.numpy(), 0.0)[:, None]  # round-off can make a flat λ −1e-17
    weight = 0.5 * lam * error.numpy() ** 2  # λᵢ/2 · eᵢⱼ²
    optimum = theory_of(X, Y).optimal_loss
    rates = np.asarray(learning_rates, dtype=np.float64)
    steps = np.asarray(updates, dtype=np.float64)
    out = np.empty(len(rates))
    with np.errstate(over="ignore", invalid="ignore"):
        for k, (rate, count) in enumerate(zip(rates, steps, strict=True)):
            factor = np.abs(1.0 - rate * lam) ** (2.0 * count)
            gap = float(np.sum(weight * factor))
            out[k] = optimum + gap if math.isfinite(gap) else math.inf
    return out


def _normal_equations(
    X: torch.Tensor, Y: torch.Tensor, between_blocks: Callable[[], None] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """X̃ᵀX̃ and X̃ᵀY in float64, a block of rows at a time."""
    d, m = X.shape[1], Y.shape[1]
    gram = torch.zeros(d + 1, d + 1, dtype=torch.float64)
    moment = torch.zeros(d + 1, m, dtype=torch.float64)
    for start in range(0, X.shape[0], BLOCK_ROWS):
        if between_blocks is not None:
            between_blocks()
        block = _with_ones(X[start : start + BLOCK_ROWS])
        gram += block.T @ block
        moment += block.T @ _double(Y[start : start + BLOCK_ROWS])
    return gram, moment


# -- how fast: the gap to the optimum ------------------------------------------------------


def rate_applies(optimizer: str, batch_size: int | None, n: int | None = None) -> bool:
    """Whether the gap to the optimum shrinks by ρ² per iteration (:func:`contraction`).

    The same runs as the bound 2/L (:func:`bound_applies`): both read the update
    θ ← θ − ε H (θ − θ*) of plain full-batch gradient descent on a quadratic.
    """
    return bound_applies(optimizer, batch_size, n)


def why_no_rate(
    optimizer: str, batch_size: int | None, n: int | None = None, known: bool = True
) -> str | None:
    """Why no rate is predicted for a run, in a few words (the chart's plot at 80×24 has
    some 32 columns for them), or None when it is (``known``: whether the theory of the
    data could be computed)."""
    if not known:
        return _("no rate: no theory of the data")
    if rate_applies(optimizer, batch_size, n):
        return None
    if optimizer != "sgd":
        return _("no rate for {optimizer} (plain SGD)").format(optimizer=optimizer)
    return _("no rate for mini-batches of {batch_size}").format(batch_size=batch_size)


def contraction(learning_rate: float, eigenvalues: np.ndarray) -> float:
    """ρ = max |1 − ε λᵢ| over the Hessian's eigenvalues λᵢ that are not zero.

    With H the Hessian, the error θ − θ* of full-batch gradient descent is
    multiplied by I − ε H at each iteration, so its part along λᵢ by 1 − ε λᵢ; the
    gap loss − loss* = ½ (θ − θ*)ᵀ H (θ − θ*) is quadratic in it and shrinks by ρ²
    (or grows, past 2/L).  A flat direction (λ = 0: a constant column, more features
    than points) keeps its error forever but adds nothing to the gap: left out.
    """
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    if not len(eigenvalues):
        return math.nan
    largest = float(eigenvalues.max())
    curved = eigenvalues[eigenvalues > largest * len(eigenvalues) * np.finfo(np.float64).eps]
    if not len(curved):
        return math.nan
    return float(np.max(np.abs(1.0 - learning_rate * curved)))


def predicted_gaps(
    rate: float, anchor_iteration: int, anchor_gap: float, iterations: np.ndarray
) -> np.ndarray:
    """The gap at each of ``iterations`` if it went by ρ² per iteration from ``anchor_gap``
    at ``anchor_iteration``: anchor_gap · ρ^(2 (k − anchor)).  Overflow gives inf,
    underflow 0 (no warning): the caller draws what fits."""
    steps = np.asarray(iterations, dtype=np.float64) - anchor_iteration
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        return anchor_gap * np.exp(2.0 * steps * math.log(rate))


# A gap under this many units in the last place of the optimum is the rounding of the loss,
# not its descent: float32 runs of the toy problem stop at ±3e-8 (half an ulp of 0.697).
ROUNDING_ULPS = 256


def gap_resolution(optimal_loss: float, dtype: str) -> float:
    """The smallest gap to the optimum a ``dtype`` run's loss tells apart from rounding."""
    return ROUNDING_ULPS * float(np.finfo(dtype).eps) * max(abs(optimal_loss), 1e-300)


def gap_anchor(gaps: np.ndarray, resolution: float) -> int | None:
    """The index of the last gap above ``resolution`` (the prediction's anchor), or None."""
    above = np.flatnonzero(np.asarray(gaps, dtype=np.float64) > resolution)
    return int(above[-1]) if len(above) else None
