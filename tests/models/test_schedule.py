"""The diffusion schedule (`models.schedule`): β, ᾱ, the official DDIM respacing rule and its
refusals, and the closed forms between x_0, ε, v and x_t."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from models.errors import InvalidStepsError
from models.schedule import (
    GRIDS,
    SOLVERS,
    Schedule,
    alphas_cumprod,
    eps_from_v,
    grid_timesteps,
    legal_step_counts,
    log_snr,
    logsnr_timesteps,
    make_betas,
    q_sample,
    quadratic_timesteps,
    respaced_timesteps,
    v_target,
    x0_from_eps,
)

# The 62 legal step counts of the official respacing rule for 1000 timesteps
# (docs/official.md, "Schedule").
OFFICIAL_LEGAL = [*range(2, 37), 38, 39, 40, 42, 44, 46, 48, 50, 53, 56, 59, 63, 67, 72, 77, 84,
                  91, 100, 112, 125, 143, 167, 200, 250, 334, 500, 1000]


# ---------------------------------------------------------------------------- schedules
@pytest.mark.parametrize(
    ("steps", "stride"), [(10, 100), (20, 50), (50, 20), (100, 10), (125, 8), (200, 5), (250, 4),
                          (500, 2), (1000, 1)],
)
def test_respaced_timesteps_follow_the_official_stride_rule(steps: int, stride: int) -> None:
    tau = respaced_timesteps(steps)
    assert tau.dtype == np.int64 and len(tau) == steps
    np.testing.assert_array_equal(tau, np.arange(0, 1000, stride))
    assert tau[-1] == 1000 - stride  # not 999


def test_respaced_timesteps_named_maxima() -> None:
    assert respaced_timesteps(10).tolist() == list(range(0, 1000, 100))
    assert [respaced_timesteps(n)[-1] for n in (100, 200, 250)] == [990, 995, 996]


def test_respaced_timesteps_match_the_golden_file(reference_dir: Path) -> None:
    # golden_small.pt: a small model's outputs computed by the official code, with the official
    # schedules (betas, ᾱ, the respaced timesteps of T = 10 and 20)
    path = reference_dir / "golden_small.pt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    schedule = torch.load(path, map_location="cpu", weights_only=True)["schedule"]
    for n in (10, 20):
        np.testing.assert_array_equal(respaced_timesteps(n), schedule[f"timesteps_T{n}"].numpy())
        s = Schedule.create("linear", n)
        np.testing.assert_allclose(s.alphas_cumprod, schedule[f"alphas_cumprod_T{n}"].numpy(),
                                   rtol=0, atol=1e-15)
        np.testing.assert_allclose(s.betas, schedule[f"betas_T{n}"].numpy(), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(make_betas("linear"), schedule["betas"].numpy())
    np.testing.assert_array_equal(make_betas("const0.008"), schedule["latent_betas"].numpy())


def test_there_are_62_legal_step_counts_as_listed_officially() -> None:
    legal = legal_step_counts()
    assert len(legal) == 62 and len(OFFICIAL_LEGAL) == 62
    assert list(legal) == OFFICIAL_LEGAL
    for n in legal:  # and each of them respaces
        assert len(respaced_timesteps(n)) == n


@pytest.mark.parametrize(
    ("steps", "nearest"),
    [(37, [36, 38]), (60, [59, 63]), (75, [72, 77]), (150, [143, 167]), (300, [250, 334]),
     (0, [2]), (1, [2]), (1001, [1000])],
)
def test_illegal_step_counts_are_refused_with_the_nearest_legal_ones(steps: int, nearest: list[int]) -> None:
    with pytest.raises(InvalidStepsError) as info:
        respaced_timesteps(steps)
    message = str(info.value)
    assert str(steps) in message
    clause = re.search(r"nearest: (\d+(?: or \d+)?)", message)
    assert clause is not None, message
    assert [int(v) for v in clause.group(1).split(" or ")] == nearest
    # a user-visible failure with a code, and still the ValueError it always was
    assert info.value.code == "invalid_request" and isinstance(info.value, ValueError)
    with pytest.raises(ValueError):
        Schedule.create("linear", steps)


def test_linear_betas_endpoints() -> None:
    betas = make_betas("linear")
    assert betas.dtype == np.float64 and betas.shape == (1000,)
    assert betas[0] == 1e-4 and betas[-1] == 0.02
    np.testing.assert_allclose(np.diff(betas), (0.02 - 1e-4) / 999, rtol=1e-9)


def test_const_betas_and_unknown_schedule() -> None:
    betas = make_betas("const0.008")
    assert betas.shape == (1000,) and np.all(betas == 0.008)
    with pytest.raises(ValueError, match=r"cosine.*linear"):
        make_betas("cosine")


def test_respaced_betas_reproduce_the_kept_alpha_bars() -> None:
    full = alphas_cumprod("linear")
    np.testing.assert_array_equal(full, np.cumprod(1 - make_betas("linear")))
    s = Schedule.create("linear", 20)
    np.testing.assert_allclose(s.alphas_cumprod, full[s.timesteps], rtol=0, atol=0)
    np.testing.assert_allclose(np.cumprod(1 - s.betas), s.alphas_cumprod, rtol=1e-12)


def test_the_refusal_lists_the_legal_counts_of_its_own_schedule_length() -> None:
    with pytest.raises(ValueError) as info:
        respaced_timesteps(30, num_timesteps=50)
    message = str(info.value)
    assert "nearest: 25 or 50" in message
    assert message.endswith("(legal: 2-10, 13, 17, 25, 50)"), message
    with pytest.raises(ValueError) as info:
        respaced_timesteps(37)
    assert "2-36, 38, 39, 40, 42, ..., 334, 500, 1000" in str(info.value)


# ---------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("as_numpy", [False, True])
def test_closed_forms_invert_each_other(as_numpy: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x_0, eps = torch.randn(4, 3, 8, 8, generator=g), torch.randn(4, 3, 8, 8, generator=g)
    a = torch.from_numpy(alphas_cumprod("linear"))[torch.tensor([0, 10, 500, 999])].view(-1, 1, 1, 1)
    if as_numpy:  # plain arithmetic: numpy arrays work alike
        x_0, eps, a = x_0.double().numpy(), eps.double().numpy(), a.numpy()
    x_t, v = q_sample(x_0, eps, a), v_target(x_0, eps, a)
    np.testing.assert_allclose(np.asarray(eps_from_v(v, x_t, a)), np.asarray(eps), atol=1e-5)
    np.testing.assert_allclose(np.asarray(x0_from_eps(x_t, eps, a)), np.asarray(x_0), atol=1e-4)


def test_closed_forms_equal_the_written_out_formulas_bit_for_bit() -> None:
    """What training, the v-prediction path and the DDIM update computed before they called these."""
    g = torch.Generator().manual_seed(1)
    x_0, eps = torch.randn(16, 3, 8, 8, generator=g), torch.randn(16, 3, 8, 8, generator=g)
    t = torch.randint(0, 1000, (16,), generator=g)
    a = torch.from_numpy(alphas_cumprod("linear")).float()[t].view(-1, 1, 1, 1)
    assert torch.equal(q_sample(x_0, eps, a), a.sqrt() * x_0 + (1 - a).sqrt() * eps)
    assert torch.equal(v_target(x_0, eps, a), a.sqrt() * eps - (1 - a).sqrt() * x_0)
    assert torch.equal(eps_from_v(x_0, eps, a), a.sqrt() * x_0 + (1 - a).sqrt() * eps)



# ---------------------------------------------------------------------------- grids
@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("steps", [2, 5, 10, 20, 50, 250, 1000])
def test_every_grid_is_distinct_ascending_integers_from_0_to_its_top(grid: str, steps: int) -> None:
    tau = grid_timesteps(grid, steps)
    assert tau.dtype == np.int64 and len(tau) == steps and tau[0] == 0
    assert (np.diff(tau) > 0).all() and tau[-1] <= 999
    if grid != "uniform":
        assert tau[-1] == 999
    assert len(Schedule.create("linear", steps, grid=grid)) == steps


def test_the_quadratic_grid_is_dense_at_low_noise() -> None:
    assert quadratic_timesteps(10).tolist() == [0, 12, 49, 111, 197, 308, 444, 604, 789, 999]


def test_the_logsnr_grid_is_uniform_in_log_snr_up_to_rounding() -> None:
    a = alphas_cumprod("linear")
    tau = logsnr_timesteps(10)
    lam = log_snr(a[tau])
    step = (log_snr(a[0]) - log_snr(a[999])) / 9
    assert np.allclose(-np.diff(lam)[2:], step, rtol=0.1)  # the first points round to t = 0, 5, 22
    assert logsnr_timesteps(10, "const0.008").tolist() != tau.tolist()  # the schedule's own λ


def test_grids_refuse_illegal_counts_and_unknown_names() -> None:
    with pytest.raises(InvalidStepsError, match="36 or 38"):
        grid_timesteps("quadratic", 37)
    with pytest.raises(ValueError, match="uniform, quadratic, logsnr"):
        grid_timesteps("cosine", 10)
    assert SOLVERS == ("ddim", "dpm++2m")
