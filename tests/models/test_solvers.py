"""DPM-Solver++(2M) (`models.solvers`) against DDIM and against the exact probability-flow ODE.

For data x_0 ~ N(0, s²·I) the exact ε-predictor is known in closed form, and so is the ODE's
solution: x_t/√(ᾱ_t·s² + 1 − ᾱ_t) is constant along it. That gives the order of each method
(its error against the exact state at the last grid point, before the final x̂0 step, whose own
bias does not depend on the step count).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.config import ModelConfig
from models.ddim import EpsFn, ddim_invert, ddim_sample
from models.pipeline import DiffAEPipeline
from models.schedule import GRIDS, Schedule, alphas_cumprod
from models.solvers import dpm_solver_2m_invert, dpm_solver_2m_sample, invert, sample
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG, TINY_SIZE, perturbed

S = 0.3  # the data's standard deviation


def gaussian_eps(std: float = S) -> EpsFn:
    """E[ε | x_t] for x_0 ~ N(0, std²·I) on the linear schedule."""
    alpha_bar = torch.from_numpy(alphas_cumprod("linear")).float()

    def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = alpha_bar[t].view(-1, *([1] * (x_t.dim() - 1)))
        return (1 - a).sqrt() * x_t / (a * std**2 + 1 - a)

    return eps_fn


def marginal_std(alpha_bar: float, std: float = S) -> float:
    return float(np.sqrt(alpha_bar * std**2 + 1 - alpha_bar))


def noise(seed: int, shape: tuple[int, ...] = (4, 3, 8, 8)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def ode_error(run: object, steps: int, grid: str) -> float:
    """Relative max error of the state at τ_0 (the last grid point) against the exact flow."""
    sched = Schedule.create("linear", steps, grid=grid)
    x_T = noise(0)
    states: list[torch.Tensor] = []
    run(gaussian_eps(), x_T, sched, clip=False, callback=lambda i, n, x, x0: states.append(x))  # type: ignore[operator]
    a = sched.alphas_cumprod
    exact = x_T * marginal_std(a[0]) / marginal_std(a[-1])
    return float((states[-2] - exact).abs().max() / exact.abs().max())


@pytest.mark.parametrize("grid", ["quadratic", "logsnr"])
def test_error_falls_4x_per_doubling_for_the_solver_and_2x_for_ddim(grid: str) -> None:
    """Measured, T = 10 → 20 → 40 → 84 (84/40 ≈ 2.1): quadratic grid, DDIM 2.00, 2.00, 2.10 per
    step of the count, the solver 3.5, 4.9, 5.0 (errors 0.093, 0.046, 0.022 against 0.036, 0.0074,
    0.0015 at T = 20, 40, 84); logsnr, DDIM 1.97, 1.98, 2.12, the solver 1.8, 4.0, 4.7."""
    counts = (20, 40, 84)
    ddim = [ode_error(ddim_sample, n, grid) for n in counts]
    solver = [ode_error(dpm_solver_2m_sample, n, grid) for n in counts]
    ddim_ratios = [ddim[i] / ddim[i + 1] for i in range(2)]
    solver_ratios = [solver[i] / solver[i + 1] for i in range(2)]
    assert all(1.6 < r < 2.6 for r in ddim_ratios), ddim_ratios
    assert all(r > 3.3 for r in solver_ratios), solver_ratios
    assert all(s < d / 2 for s, d in zip(solver, ddim, strict=True)), (solver, ddim)


def test_the_first_step_is_ddim_and_the_solver_agrees_with_ddim_to_first_order() -> None:
    """Step 1 has no history: the same update as DDIM. Over a whole run the two differ by DDIM's
    own (first-order) error, which halves as T doubles."""
    x_T = noise(1)
    sched = Schedule.create("linear", 20, grid="quadratic")
    firsts: list[torch.Tensor] = []
    for run in (ddim_sample, dpm_solver_2m_sample):
        run(gaussian_eps(), x_T, sched, callback=lambda i, n, x, x0: firsts.append(x) if i == 0 else None)
    torch.testing.assert_close(firsts[0], firsts[1], rtol=1e-5, atol=1e-6)
    gaps = []
    for n in (20, 40, 84):
        sched = Schedule.create("linear", n, grid="quadratic")
        first = ddim_sample(gaussian_eps(), x_T, sched)
        gaps.append(float((first - dpm_solver_2m_sample(gaussian_eps(), x_T, sched)).abs().max()))
    assert gaps[0] > gaps[1] > gaps[2] and gaps[0] / gaps[2] > 3, gaps


def test_every_step_reports_its_x0_and_the_last_one_is_the_output() -> None:
    seen: list[tuple[int, int, torch.Tensor, torch.Tensor]] = []
    sched = Schedule.create("linear", 7, grid="logsnr")
    out = dpm_solver_2m_sample(gaussian_eps(), noise(2), sched,
                               callback=lambda i, n, x, x0: seen.append((i, n, x.clone(), x0.clone())))
    assert [(i, n) for i, n, _, _ in seen] == [(i, 7) for i in range(7)]
    assert torch.equal(seen[-1][2], out) and torch.equal(seen[-1][3], out)  # the last step returns x̂0
    assert all(x0.abs().max() <= 1 for *_, x0 in seen)  # clipped, as the update used it


def test_solvers_by_name() -> None:
    sched = Schedule.create("linear", 10)
    x = noise(3).clamp(-1, 1)
    assert torch.equal(sample("ddim", gaussian_eps(), x, sched), ddim_sample(gaussian_eps(), x, sched))
    assert torch.equal(invert("ddim", gaussian_eps(), x, sched), ddim_invert(gaussian_eps(), x, sched))
    solver = invert("dpm++2m", gaussian_eps(), x, sched)
    assert torch.equal(solver, dpm_solver_2m_invert(gaussian_eps(), x, sched))
    with pytest.raises(ValueError, match="dpm"):
        sample("euler", gaussian_eps(), x, sched)


def test_lower_order_final_changes_only_the_step_before_the_last() -> None:
    sched = Schedule.create("linear", 10, grid="quadratic")
    runs: list[list[torch.Tensor]] = [[], []]
    for lower, states in zip((False, True), runs, strict=True):
        dpm_solver_2m_sample(gaussian_eps(), noise(4), sched, lower_order_final=lower,
                             callback=lambda i, n, x, x0, kept=states: kept.append(x))
    assert all(torch.equal(a, b) for a, b in zip(runs[0][:-2], runs[1][:-2], strict=True))
    assert not torch.equal(runs[0][-2], runs[1][-2])


@pytest.fixture(scope="module")
def tiny_unet() -> DiffAEUNet:
    torch.manual_seed(0)
    return perturbed(DiffAEUNet(TINY_CONFIG.autoencoder), 1).eval()


@pytest.mark.parametrize("grid", GRIDS)
def test_inversion_then_decoding_recovers_x0_better_than_ddim(tiny_unet: DiffAEUNet, grid: str) -> None:
    """A denoiser-like ε̂ (the Gaussian one plus the tiny UNet's, which depends on x_t, t and z):
    encode → decode with the solver comes closer to x_0 than DDIM at every equal T."""
    gen = torch.Generator().manual_seed(5)
    x_0 = (S * torch.randn(2, 3, TINY_SIZE, TINY_SIZE, generator=gen)).clamp(-0.95, 0.95)
    gaussian = gaussian_eps()
    with torch.no_grad():
        z_scales = tiny_unet.z_scales(tiny_unet.encode(x_0))

        def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return gaussian(x_t, t) + 0.3 * tiny_unet(x_t, t, z_scales=z_scales)

        errors: dict[tuple[str, int], float] = {}
        for n in (10, 20):
            sched = Schedule.create("linear", n, grid=grid)
            for name in ("ddim", "dpm++2m"):
                x_T = invert(name, eps_fn, x_0, sched)
                errors[name, n] = float((sample(name, eps_fn, x_T, sched) - x_0).abs().mean())
    for n in (10, 20):
        assert errors["dpm++2m", n] < errors["ddim", n], errors
    assert errors["dpm++2m", 20] < errors["dpm++2m", 10], errors


def test_a_v_prediction_pipeline_decodes_and_round_trips_with_the_solver() -> None:
    """v-prediction networks reach the solver as ε (`DiffAEPipeline._eps_fn`): the solver's
    render agrees with DDIM's at many steps, and both differ from rendering the raw v as ε."""
    config = ModelConfig.from_dict({**TINY_CONFIG.to_dict(),
                                    "diffusion": {**TINY_CONFIG.to_dict()["diffusion"], "prediction": "v"}})
    torch.manual_seed(0)
    pipe = DiffAEPipeline(config, perturbed(DiffAEUNet(config.autoencoder), 2), device="cpu",
                          dtype=torch.float32)
    x_0 = (S * noise(6, (1, 3, TINY_SIZE, TINY_SIZE))).clamp(-1, 1)
    z, x_T = pipe.encode(x_0, 20, solver="dpm++2m", grid="quadratic")
    assert torch.isfinite(x_T).all()
    fine = {name: pipe.decode(z, x_T, 100, solver=name, grid="quadratic") for name in ("ddim", "dpm++2m")}
    eps_config = ModelConfig.from_dict({**config.to_dict(), "diffusion": TINY_CONFIG.to_dict()["diffusion"]})
    eps_pipe = DiffAEPipeline(eps_config, pipe.autoencoder, device="cpu", dtype=torch.float32)
    as_eps = eps_pipe.decode(z, x_T, 100, solver="dpm++2m", grid="quadratic")
    gap = float((fine["ddim"] - fine["dpm++2m"]).abs().mean())
    assert gap < 0.05 and gap < float((as_eps - fine["dpm++2m"]).abs().mean()) / 3, gap
