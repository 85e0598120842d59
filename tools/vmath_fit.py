"""Derive the polynomial coefficients of csrc/vmath.h (a development tool; needs mpmath).

    python tools/vmath_fit.py [exp log erf erfcx]

Every fit is a linear minimax approximation (Remez exchange on a dense grid, 40-digit
arithmetic) of a smooth function g(u) by a polynomial P(u) of degree n-1, minimising
max |w(u) * (g(u) - P(u))|, where g strips the leading terms that are exact in float32 (so
rounding the fitted coefficients to float32 perturbs only small terms) and w turns the error
into the relative error of the final function. The printed error is recomputed with the
coefficients rounded to float32 (evaluation itself exact), in units of 2^-24 (half an ulp at 1,
i.e. one ulp in the worst case). Only textbook definitions of the functions are used.
"""
import struct
import sys

import mpmath as mp

mp.mp.dps = 40


def f32(v):
    """Round to the nearest float32."""
    return struct.unpack("f", struct.pack("f", float(v)))[0]


def _nz(u):
    """Keep grid points off an exact 0 where g is a removable 0/0."""
    return u if u != 0 else mp.mpf("1e-30")


def remez(g, n, a, b, w, grid=2000, iters=40, mul=None):
    """Coefficients c[0..n-1] of P(u) = sum c_j u^j minimising max |w (g - m P)| over [a, b],
    m = mul(u) (default 1)."""
    mul = mul or (lambda u: 1)
    a, b = mp.mpf(a), mp.mpf(b)
    gx = sorted(set([_nz(a + (b - a) * (1 - mp.cos(mp.pi * k / grid)) / 2) for k in range(grid + 1)]
                    + [_nz(a + (b - a) * k / grid) for k in range(grid + 1)]))
    gv = [g(u) for u in gx]
    wv = [w(u) for u in gx]
    mv = [mul(u) for u in gx]
    ref = list(range(0, len(gx), max(1, (len(gx) - 1) // n)))[:n + 1]
    ref[-1] = len(gx) - 1
    best = None
    for _ in range(iters):
        A = mp.matrix(n + 1, n + 1)
        rhs = mp.matrix(n + 1, 1)
        for i, k in enumerate(ref):
            for j in range(n):
                A[i, j] = mv[k] * gx[k] ** j
            A[i, n] = (-1) ** i / wv[k]
            rhs[i] = gv[k]
        sol = mp.lu_solve(A, rhs)
        c, E = [sol[j] for j in range(n)], abs(sol[n])
        ev = [wv[k] * (gv[k] - mv[k] * mp.polyval(c[::-1], gx[k])) for k in range(len(gx))]
        m = max(abs(e) for e in ev)
        if best is None or m < best[0]:
            best = (m, c)
        if m <= E * (1 + mp.mpf("1e-4")):
            break
        # new reference: the largest error of each sign run, n+1 of them, alternating
        runs = []
        for k, e in enumerate(ev):
            if runs and mp.sign(e) == mp.sign(ev[runs[-1]]):
                if abs(e) > abs(ev[runs[-1]]):
                    runs[-1] = k
            elif e != 0:
                runs.append(k)
        while len(runs) > n + 1:
            if abs(ev[runs[0]]) < abs(ev[runs[-1]]):
                runs.pop(0)
            else:
                runs.pop()
        if len(runs) < n + 1:
            break
        ref = runs
    return best[1]


def report(name, g, w, a, b, c, n=3000):
    c32 = [mp.mpf(f32(v)) for v in c]
    a, b = mp.mpf(a), mp.mpf(b)
    err = max(abs(w(u) * (g(u) - mp.polyval(c32[::-1], u)))
              for u in (_nz(a + (b - a) * k / n) for k in range(n + 1)))
    print(f"{name}: max relative error {float(err):.3e} = {float(err) * 2 ** 24:.3f} x 2^-24")
    for j, v in enumerate(c):
        print(f"    c{j} = {f32(v)!r}f")
    return c


def fit(name, g, n, a, b, w):
    return report(name, g, w, a, b, remez(g, n, a, b, w))


def fit_exp(n=5):
    # e^r = 1 + r + r^2 P(r) on [-ln2/2, ln2/2], minimax relative to e^r - 1 (tanh uses u = e^r - 1
    # directly); that also bounds the error relative to e^r (|e^r - 1| < 0.42 e^r there)
    h = mp.log(2) / 2
    c = fit("exp: e^r = 1 + r + r^2 P(r), |r| <= ln2/2, error relative to e^r - 1",
            lambda r: (mp.exp(r) - 1 - r) / r ** 2, n, -h, h, lambda r: r * r / abs(mp.expm1(r)))
    c32 = [mp.mpf(f32(v)) for v in c]
    err = max(abs((1 + r + r * r * mp.polyval(c32[::-1], r)) / mp.exp(r) - 1)
              for r in (-h + 2 * h * k / 3000 for k in range(3001)))
    print(f"    (error relative to e^r: {float(err) * 2 ** 24:.3f} x 2^-24)")
    return c


def fit_log1p(n=8):
    # log1p(f) = f - f^2/2 + f^3 P(f) on [sqrt(1/2) - 1, sqrt(2) - 1]
    lo, hi = mp.sqrt(0.5) - 1, mp.sqrt(2) - 1
    return fit("log: log1p(f) = f - f^2/2 + f^3 P(f)", lambda f: (mp.log1p(f) - f + f * f / 2) / f ** 3, n, lo, hi,
               lambda f: abs(f ** 3 / mp.log1p(f)))


def fit_erf(cut="0.5", n=5):
    # erf(z) = c_hi z + z P(z^2) on [0, cut], c_hi = float32(2/sqrt(pi))
    chi = mp.mpf(f32(2 / mp.sqrt(mp.pi)))
    print(f"erf: c_hi = {f32(chi)!r}f")
    cut = mp.mpf(cut)
    return fit(f"erf: c_hi z + z P(z^2), |z| <= {cut}", lambda s: (mp.erf(mp.sqrt(s)) - chi * mp.sqrt(s)) / mp.sqrt(s),
               n, 0, cut * cut, lambda s: mp.sqrt(s) / mp.erf(mp.sqrt(s)))


def fit_erfcx(amax=16, n=12):
    # erfcx(a / sqrt 2) = exp(a^2/2) erfc(a / sqrt 2) as P(t), t = 1 / (1 + a/4), 0 <= a <= amax;
    # evaluated in double precision, so the coefficients are printed as doubles
    g = lambda t: mp.erfc((4 / t - 4) / mp.sqrt(2)) * mp.exp((4 / t - 4) ** 2 / 2)
    tmin = 1 / (1 + mp.mpf(amax) / 4)
    c = remez(g, n, tmin, 1, lambda t: 1 / g(t))
    err = max(abs(1 - mp.polyval([mp.mpf(float(v)) for v in c][::-1], t) / g(t))
              for t in (tmin + (1 - tmin) * k / 3000 for k in range(3001)))
    print(f"erfc: erfcx(a/sqrt2) = P(1/(1+a/4)), 0 <= a <= {amax}, double: max relative error "
          f"{float(err):.3e} = {float(err) * 2 ** 24:.4f} x 2^-24")
    for j, v in enumerate(c):
        print(f"    c{j} = {float(v)!r}")
    return c


if __name__ == "__main__":
    which = sys.argv[1:] or ["exp", "log", "erf", "erfcx"]
    for name in which:
        globals()["fit_" + ("log1p" if name == "log" else name)]()
