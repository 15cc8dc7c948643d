"""Float tolerances derived from float32 arithmetic and the size of the values involved (docs/tolerances.md).

A float32 result differs from its float64 value, or from the same float32 computation run through another
kernel (a batch of 1 against a batch of 64, XLA or not, another CPU's vector width), by a few ulps of the
magnitudes it was summed from, not of its own size: a sum of large terms that cancel to nearly 0 keeps the
absolute error of the large terms. So a bound is an absolute part, `ulps` float32 eps times that magnitude,
plus, where the result's own size matters, a relative part. A bare rtol on a value that can be near 0, or a
bare 1e-6 on values of size 30, is a bound of one machine's rounding, not of float32.
"""

import numpy as np

EPS32 = 2.0 ** -23   # np.finfo(np.float32).eps: the spacing of float32 numbers at 1.0, ~1.19e-7


def f32_atol(magnitude, ulps=8):
    """`ulps` float32 eps of `magnitude`: the size of what was summed to get each result (sum |terms|, or its
    largest term times the number of terms on the way), elementwise."""
    return ulps * EPS32 * np.asarray(magnitude, np.float64)


def assert_f32_close(actual, desired, magnitude, ulps=8, rtol=0.0, what="values"):
    """|actual - desired| <= rtol * |desired| + f32_atol(magnitude, ulps), elementwise (magnitude broadcasts);
    np.testing.assert_allclose takes only a scalar atol. Returns the largest |d| / bound, for the record."""
    actual, desired = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    assert actual.shape == desired.shape, (what, actual.shape, desired.shape)
    diff = np.abs(actual - desired)
    bound = rtol * np.abs(desired) + f32_atol(np.broadcast_to(magnitude, diff.shape), ulps)
    ratio = np.divide(diff, bound, out=np.where(diff > 0, np.inf, 0.0), where=bound > 0)
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.size else ()
    assert not ratio.size or ratio[worst] <= 1, (
        f"{what}: |d| = {diff[worst]:.3g} at {tuple(int(i) for i in worst)} exceeds its bound {bound[worst]:.3g} "
        f"({ulps} float32 eps of magnitude {np.broadcast_to(magnitude, diff.shape)[worst]:.3g}"
        f"{f' + rtol {rtol:g}' if rtol else ''}); {int(np.sum(ratio > 1))} of {ratio.size} over")
    return float(ratio.max()) if ratio.size else 0.0
