"""The objective of the frequentist search: for a batch of candidate hyperparameters, the
adstocked and Hill-saturated design, the non-negative Ridge fit in closed form, and Robyn's
NRMSE, DECOMP.RSSD and MAPE.LIFT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import lsq_linear

from mmm_recovery.estimators.frequentist.config import adstock_params
from mmm_recovery.families import registry as families
from mmm_recovery.families import transforms


# ---------------------------------------------------------------------------------- objective
@dataclass
class Objective:
    """Vectorised Robyn objective over a batch of hyperparameter vectors.

    A hyperparameter vector is ``[adstock params (C each) | slope (C) | gamma (C) | log10_lambda]``.
    """

    spend: np.ndarray  # (T, C) currency
    other: np.ndarray  # (T, K) controls, trend, Fourier
    y: np.ndarray  # (T,)
    rows: np.ndarray  # training rows used in the fit
    family: str
    l_max: int
    normalize: bool
    #: lift tests (channel index, x, x + delta_x, delta_y, weeks: NaN for steady state), or None
    lift: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def objective_names(self) -> list[str]:
        """Columns :meth:`objectives` returns: NRMSE, DECOMP.RSSD and, with lift tests, MAPE.LIFT."""
        return ["nrmse", "decomp_rssd", *(["mape_lift"] if self.lift is not None else [])]

    @property
    def n_channels(self) -> int:
        return self.spend.shape[1]

    @property
    def n_params(self) -> int:
        return self.n_channels * (len(adstock_params(self.family)) + 2) + 1

    def decode(self, h: np.ndarray) -> dict[str, np.ndarray]:
        """Split (B, n_params) into named (B, C) blocks and ``lambda`` (B,)."""
        h = np.atleast_2d(h)
        c = self.n_channels
        names = (*adstock_params(self.family), "slope", "gamma")
        out = {name: h[:, i * c : (i + 1) * c] for i, name in enumerate(names)}
        out["lambda"] = 10.0 ** h[:, -1]
        return out

    def features(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Saturated media (B, T, C) in [0, 1) and the Hill kappa in currency (B, C)."""
        p = self.decode(h)
        ad_params = {k: p[k] for k in adstock_params(self.family)}
        w = families.adstock_weights(self.family, ad_params, self.l_max, self.normalize)
        ad = transforms.convolve_adstock(self.spend, w)
        train = ad[:, self.train_rows_for_range, :]
        lo, hi = train.min(axis=1), train.max(axis=1)
        kappa = lo + p["gamma"] * (hi - lo)
        return transforms.hill_saturation(ad, p["slope"][:, None, :], kappa[:, None, :]), kappa

    @property
    def train_rows_for_range(self) -> np.ndarray:
        return np.arange(self.rows.max() + 1)

    def design(self, sat: np.ndarray) -> np.ndarray:
        """(B, T, C + K): media features then the other regressors."""
        other = np.broadcast_to(self.other, (sat.shape[0], *self.other.shape))
        return np.concatenate([sat, other], axis=2)

    def solve(
        self, sat: np.ndarray, lam: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batched ridge of ``y`` on the design (:meth:`design`: media features ``sat`` (B, T, C),
        then the other regressors) over ``rows``, with non-negative media coefficients (active
        set). The other regressors' block of the Gram matrix is shared by the batch and computed
        once. Returns (coef (B, P), intercept (B,))."""
        s = sat[:, rows, :]
        o = self.other[rows]
        y = self.y[rows]
        n, (b, c), k = len(rows), (sat.shape[0], sat.shape[2]), o.shape[1]
        mean_s, mean_o = s.mean(axis=1), o.mean(axis=0)
        sc, oc = s - mean_s[:, None, :], o - mean_o
        yc = y - y.mean()
        mean = np.concatenate([mean_s, np.broadcast_to(mean_o, (b, k))], axis=1)
        var = np.concatenate(
            [(sc**2).mean(axis=1), np.broadcast_to((oc**2).mean(axis=0), (b, k))], axis=1
        )
        var = np.where(var > 0, var, 1.0)
        gram = np.empty((b, c + k, c + k))
        gram[:, :c, :c] = np.matmul(sc.transpose(0, 2, 1), sc)
        cross = np.matmul(sc.transpose(0, 2, 1), oc)
        gram[:, :c, c:] = cross
        gram[:, c:, :c] = cross.transpose(0, 2, 1)
        gram[:, c:, c:] = oc.T @ oc
        rhs = np.concatenate([np.matmul(yc, sc), np.broadcast_to(yc @ oc, (b, k))], axis=1)
        idx = np.arange(c + k)
        gram[:, idx, idx] += n * lam[:, None] * var
        coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
        free = np.ones(rhs.shape, dtype=bool)
        todo = np.flatnonzero((coef[:, :c] < 0).any(axis=1))
        for _ in range(c):  # active set: only candidates with a negative media coefficient re-solve
            if todo.size == 0:
                break
            free[todo, :c] &= ~(coef[todo, :c] < 0)
            f = free[todo]
            g = np.where(f[:, :, None] & f[:, None, :], gram[todo], 0.0)
            g[:, idx, idx] += ~f
            coef[todo] = np.linalg.solve(g, np.where(f, rhs[todo], 0.0)[..., None])[..., 0]
            todo = todo[((coef[todo, :c] < 0) & f[:, :c]).any(axis=1)]
        coef[:, :c] = np.maximum(coef[:, :c], 0.0)
        intercept = y.mean() - np.einsum("bp,bp->b", mean, coef)
        return coef, intercept

    def losses(
        self, h: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(NRMSE, DECOMP.RSSD) per candidate, each of shape (B,)."""
        out = self.objectives(h, rows)
        return out["nrmse"], out["decomp_rssd"]

    def objectives(
        self,
        h: np.ndarray,
        rows: np.ndarray | None = None,
        features: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """:attr:`objective_names` -> its value per candidate, shape (B,), fitted on ``rows``
        (default: the training rows). ``features`` is :meth:`features` of ``h`` when the caller
        has it: it does not depend on ``rows`` (kappa's range is the training weeks')."""
        rows = self.rows if rows is None else rows
        sat, kappa = self.features(h) if features is None else features
        coef, intercept = self.solve(sat, self.decode(h)["lambda"], rows)
        nrmse, rssd = self._losses(sat, coef, intercept, rows)
        out = {"nrmse": nrmse, "decomp_rssd": rssd}
        if self.lift is not None:
            out["mape_lift"] = self.mape_lift(h, kappa, coef)
        return out

    def mape_lift(self, h: np.ndarray, kappa: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """Robyn's MAPE.LIFT per candidate (B,): mean over the lift tests of
        ``|model lift - measured lift| / |measured lift|``. The model's lift is the change of its
        steady-state weekly response, ``beta_c * hill(x * sum(w_c))`` at constant spend, or for a
        test of ``weeks`` weeks the mean change over them from steady state: in test week ``t``
        the adstocked spend is ``x * sum(w_c) + delta_x * sum_{j<t} w_cj``."""
        assert self.lift is not None
        idx, x, x_after, dy, weeks = self.lift
        p = self.decode(h)
        ad_params = {k: p[k] for k in adstock_params(self.family)}
        w = families.adstock_weights(self.family, ad_params, self.l_max, self.normalize)
        wsum = w.sum(axis=-2)[:, idx]  # (B, l_max, C) -> (B, tests)
        slope, kap, beta = p["slope"][:, idx], kappa[:, idx], coef[:, idx]
        before = transforms.hill_saturation(x * wsum, slope, kap)
        model = beta * (transforms.hill_saturation(x_after * wsum, slope, kap) - before)
        timed = np.isfinite(weeks)
        if timed.any():
            n = weeks[timed].astype(int)
            longest = int(n.max())
            lags = np.minimum(np.arange(1, longest + 1), self.l_max) - 1  # (t,) last lag reached
            built = np.cumsum(w, axis=-2)[:, lags][:, :, idx[timed]]  # (B, t, tests)
            dx = (x_after - x)[timed]
            during = transforms.hill_saturation(
                (x * wsum)[:, None, timed] + dx * built, slope[:, None, timed], kap[:, None, timed]
            )
            share = (np.arange(longest)[:, None] < n[None, :]) / n[None, :]  # (t, tests)
            change = ((during - before[:, None, timed]) * share).sum(axis=1)
            model[:, timed] = beta[:, timed] * change
        return np.mean(np.abs(model - dy) / np.abs(dy), axis=1)

    def _losses(self, sat, coef, intercept, rows):
        """NRMSE and DECOMP.RSSD over ``rows`` of the fits ``coef``, ``intercept`` on the design
        whose media features are ``sat`` (B, T, C)."""
        s = sat[:, rows, :]
        y = self.y[rows]
        c = self.n_channels
        media = np.einsum("bnc,bc->bn", s, coef[:, :c])
        yhat = intercept[:, None] + media + (self.other[rows] @ coef[:, c:].T).T
        nrmse = np.sqrt(np.mean((y - yhat) ** 2, axis=1)) / (y.max() - y.min())
        effect = coef[:, :c] * s.sum(axis=1)
        total = effect.sum(axis=1, keepdims=True)
        eff_share = np.divide(effect, total, out=np.zeros_like(effect), where=total > 0)
        spend = self.spend[rows].sum(axis=0)
        spend_share = spend / spend.sum()
        rssd = np.sqrt(((eff_share - spend_share) ** 2).sum(axis=1))
        return nrmse, rssd

    def exact_fit(self, h: np.ndarray, rows: np.ndarray | None = None) -> dict[str, Any]:
        """The exact bounded ridge fit (``lsq_linear``, BVLS) for one hyperparameter vector."""
        rows = self.rows if rows is None else rows
        h = np.atleast_2d(h)
        sat, kappa = self.features(h)
        design = self.design(sat)[0]
        lam = float(self.decode(h)["lambda"][0])
        d = design[rows]
        y = self.y[rows]
        n, p = d.shape
        mean = d.mean(axis=0)
        dc = d - mean
        var = (dc**2).mean(axis=0)
        var = np.where(var > 0, var, 1.0)
        a = np.vstack([dc, np.diag(np.sqrt(n * lam * var))])
        b = np.concatenate([y - y.mean(), np.zeros(p)])
        lower = np.full(p, -np.inf)
        lower[: self.n_channels] = 0.0
        sol = lsq_linear(a, b, bounds=(lower, np.full(p, np.inf)), method="bvls")
        coef = sol.x
        intercept = float(y.mean() - mean @ coef)
        nrmse, rssd = self._losses(sat, coef[None], np.array([intercept]), rows)
        out = {
            "coef": coef,
            "intercept": intercept,
            "design": design,
            "kappa": kappa[0],
            "yhat": intercept + design @ coef,
            "nrmse": float(nrmse[0]),
            "rssd": float(rssd[0]),
        }
        if self.lift is not None:
            out["mape_lift"] = float(self.mape_lift(h, kappa, coef[None])[0])
        return out


def _reference_free_loss(obj: Objective, h: np.ndarray) -> float:  # pragma: no cover - doc helper
    return float(obj.losses(h)[0][0])
