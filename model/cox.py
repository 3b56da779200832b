"""Cox proportional hazards in numpy: Breslow partial likelihood maximised by Newton-Raphson
(step halving), Breslow baseline cumulative hazard for risks at fixed horizons. The clinical
baseline of the table (age and sex: what a site has; FRAX's equations are unpublished).
"""
import numpy as np


class Cox:
    def __init__(self, ridge=1e-4, max_iter=50):
        self.ridge = ridge
        self.max_iter = max_iter

    def _loglik(self, Xs, t, e, beta):
        eta = Xs @ beta
        order = np.argsort(-t, kind="mergesort")  # descending time: cumulative sums are risk sets
        eta_o, t_o, e_o = eta[order], t[order], e[order]
        m = eta_o.max()
        cum = np.cumsum(np.exp(eta_o - m))
        # risk set of a time = everyone with T >= t: the last index with that time
        last = np.searchsorted(-t_o, -t_o, side="right") - 1
        logrisk = np.log(cum[last]) + m
        return float(np.sum(e_o * (eta_o - logrisk))) - 0.5 * self.ridge * float(beta @ beta)

    def _grad_hess(self, Xs, t, e, beta):
        eta = Xs @ beta
        order = np.argsort(-t, kind="mergesort")
        X_o, t_o, e_o = Xs[order], t[order], e[order]
        w = np.exp(eta[order] - eta.max())
        s0 = np.cumsum(w)
        s1 = np.cumsum(w[:, None] * X_o, axis=0)
        s2 = np.cumsum(w[:, None, None] * X_o[:, :, None] * X_o[:, None, :], axis=0)
        last = np.searchsorted(-t_o, -t_o, side="right") - 1
        p = Xs.shape[1]
        g = -self.ridge * beta.copy()
        Hm = self.ridge * np.eye(p)
        for i in np.nonzero(e_o)[0]:
            k = last[i]
            mu = s1[k] / s0[k]
            g += X_o[i] - mu
            Hm += s2[k] / s0[k] - np.outer(mu, mu)
        return g, Hm

    def fit(self, X, time, event):
        X = np.asarray(X, float)
        t = np.asarray(time, float)
        e = np.asarray(event, int)
        self.mean_ = X.mean(axis=0)
        self.sd_ = X.std(axis=0)
        self.sd_[self.sd_ == 0] = 1.0
        Xs = (X - self.mean_) / self.sd_
        beta = np.zeros(X.shape[1])
        ll = self._loglik(Xs, t, e, beta)
        for _ in range(self.max_iter):
            g, Hm = self._grad_hess(Xs, t, e, beta)
            step = np.linalg.solve(Hm, g)
            s = 1.0
            while s > 1e-6:
                nb = beta + s * step
                nll = self._loglik(Xs, t, e, nb)
                if nll >= ll - 1e-12:
                    break
                s /= 2
            if s <= 1e-6:
                break
            converged = abs(nll - ll) < 1e-9
            beta, ll = nb, nll
            if converged:
                break
        self.beta_std_ = beta
        self.coef_ = beta / self.sd_  # per unit of the raw covariates
        self.loglik_ = ll
        # Breslow baseline cumulative hazard at the centred covariates
        eta = Xs @ beta
        ut = np.unique(t[e == 1])
        r = np.exp(eta)
        inc = np.array([np.sum((t == u) & (e == 1)) / np.sum(r[t >= u]) for u in ut])
        self.base_times_ = ut
        self.base_cumhaz_ = np.cumsum(inc)
        return self

    def linear_predictor(self, X):
        return ((np.asarray(X, float) - self.mean_) / self.sd_) @ self.beta_std_

    def cumulative_risk(self, X, horizons):
        """P(event by each horizon) = 1 - exp(-H0(h) exp(lp)), [N, len(horizons)]."""
        lp = self.linear_predictor(X)
        H0 = np.array([self.base_cumhaz_[np.searchsorted(self.base_times_, h, side="right") - 1]
                       if np.any(self.base_times_ <= h) else 0.0 for h in horizons])
        return 1.0 - np.exp(-np.outer(np.exp(lp), H0))
