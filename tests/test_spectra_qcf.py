"""Quantum correction factors: formulas, omega -> 0 limits, detailed balance, harmonic exactness."""

import numpy as np
import pytest

from tensorml.spectra import qcf
from tensorml.units import BOLTZMANN_CM1_PER_K

X = np.array([-3.0, -0.5, 1e-9, 0.3, 1.0, 4.0, 10.0])


def test_formulas():
    x = X
    np.testing.assert_allclose(qcf.factor("none", x), 1.0)
    np.testing.assert_allclose(qcf.factor("harmonic", x), x / (1 - np.exp(-x)), rtol=1e-7)
    np.testing.assert_allclose(qcf.factor("standard", x), 2 / (1 + np.exp(-x)))
    np.testing.assert_allclose(qcf.factor("schofield", x), np.exp(x / 2))
    # what multiplies beta w^2/(6 V c eps0) C_cl in the absorption coefficient
    np.testing.assert_allclose(qcf.absorption_factor("harmonic", x), 1.0)
    np.testing.assert_allclose(qcf.absorption_factor("none", x), (1 - np.exp(-x)) / x, rtol=1e-7)
    np.testing.assert_allclose(qcf.absorption_factor("standard", x), 2 * np.tanh(x / 2) / x, rtol=1e-7)
    np.testing.assert_allclose(qcf.absorption_factor("schofield", x), 2 * np.sinh(x / 2) / x, rtol=1e-7)
    with pytest.raises(ValueError, match="unknown quantum correction"):
        qcf.factor("kubo", x)


@pytest.mark.parametrize("name", qcf.QCFS)
def test_limit_omega_to_zero(name):
    x = np.array([0.0, 1e-12, -1e-12, 1e-6])
    np.testing.assert_allclose(qcf.factor(name, x), 1.0, atol=1e-6)
    np.testing.assert_allclose(qcf.absorption_factor(name, x), 1.0, atol=1e-6)


@pytest.mark.parametrize("name", ["harmonic", "standard", "schofield"])
def test_detailed_balance(name):
    """Q(x) C_cl(w) with C_cl even obeys C_q(-w) = exp(-x) C_q(w): Q(-x) = exp(-x) Q(x)."""
    x = np.linspace(0.05, 8.0, 50)
    np.testing.assert_allclose(qcf.factor(name, -x), np.exp(-x) * qcf.factor(name, x), rtol=1e-10)


def test_none_breaks_detailed_balance():
    x = np.array([1.0, 3.0])
    assert not np.allclose(qcf.factor("none", -x), np.exp(-x) * qcf.factor("none", x))


def test_harmonic_recovers_quantum_oscillator():
    """Harmonic oscillator (mass m, frequency w0, linear observable q), in units hbar = m = w0 = 1.

    Classical: C_cl(w) = (k_B T / w0^2) pi [delta(w - w0) + delta(w + w0)].
    Quantum:   C_q(w)  = (1/(2 w0)) 2 pi [(n + 1) delta(w - w0) + n delta(w + w0)], n = 1/(exp(x0) - 1).
    The harmonic factor maps the classical peak weights onto the quantum ones at every T; the others do not.
    """
    for x0 in [0.2, 1.0, 5.0, 20.0]:
        kT = 1.0 / x0
        cl_plus = cl_minus = np.pi * kT
        n = 1.0 / np.expm1(x0)
        q_plus, q_minus = np.pi * (n + 1), np.pi * n
        assert qcf.factor("harmonic", x0) * cl_plus == pytest.approx(q_plus, rel=1e-12)
        assert qcf.factor("harmonic", -x0) * cl_minus == pytest.approx(q_minus, rel=1e-12)
        if x0 >= 1.0:
            for other in ("standard", "schofield"):
                assert qcf.factor(other, x0) * cl_plus != pytest.approx(q_plus, rel=1e-3)


def test_reduced_frequency():
    assert qcf.reduced_frequency(BOLTZMANN_CM1_PER_K * 300.0, 300.0) == pytest.approx(1.0)
    assert qcf.reduced_frequency(1000.0, 300.0) == pytest.approx(4.7959, rel=1e-4)
    with pytest.raises(ValueError, match="temperature"):
        qcf.reduced_frequency(1000.0, 0.0)
