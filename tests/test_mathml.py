"""The MathML compiler against libRoadRunner's evaluation of the same SBML math."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import libsbml
import numpy as np
import pytest

import sbmljax
from sbmljax._compile._network import compile_network
from sbmljax._expr import evaluate
from sbmljax.sbml._mathml import UnsupportedMath, convert

FORMULAS = [
    "a + b * c - d / e",
    "-a + (b - c)",
    "pow(a, b) + a^2",
    "exp(b) * ln(c)",
    "log10(c) + log(2, d)",
    "sqrt(c) + root(3, d)",
    "abs(d - e) + abs(-a)",
    "floor(c) + ceil(c) + floor(-c)",
    "factorial(4) + factorial(floor(c))",
    "sin(a) + cos(b) + tan(c / 10)",
    "sinh(a) + cosh(b / 2) + tanh(c)",
    "asin(a / 2) + acos(a / 2) + atan(c)",
    "sec(a) + csc(b) + cot(c)",
    "piecewise(a, c > b, d)",
    "piecewise(a, c < b, d, e > 1, 7)",
    "piecewise(1, (c > b) && (d > b), 0)",
    "piecewise(1, (c > b) || (d < b), 0)",
    "piecewise(1, !(c > b), 0)",
    "piecewise(1, xor(c > b, d > b), 0)",
    "piecewise(1, a == 1, 0) + piecewise(1, a != 1, 0)",
    "piecewise(1, c >= 3, 0) + piecewise(1, c <= 3, 0)",
    "max(a, b, c) + min(a, b, c)",
    "f(a, b) + g(c)",
    "f(g(a), 2)",
    "time * a",
    "avogadro * 1e-23",
    "exponentiale + pi",
    "hill(d, 2, c)",
]

FUNCTIONS = {
    "f": "lambda(x, y, x * y + 1)",
    "g": "lambda(x, 2 * x)",
    "hill": "lambda(x, n, K, x^n / (K^n + x^n))",
}
VALUES = {"a": 1.0, "b": 2.5, "c": 3.7, "d": 10.0, "e": 0.3}
T_EVAL = 2.0


def _document() -> str:
    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId("mathtest")
    m.setTimeUnits("second")
    c = m.createCompartment()
    c.setId("comp")
    c.setSize(1.0)
    c.setConstant(True)
    for fid, lam in FUNCTIONS.items():
        fd = m.createFunctionDefinition()
        fd.setId(fid)
        fd.setMath(libsbml.parseL3Formula(lam))
    for k, v in VALUES.items():
        p = m.createParameter()
        p.setId(k)
        p.setValue(v)
        p.setConstant(True)
    for i, formula in enumerate(FORMULAS):
        p = m.createParameter()
        p.setId(f"y{i}")
        p.setConstant(False)
        p.setValue(0.0)
        r = m.createAssignmentRule()
        r.setVariable(f"y{i}")
        ast = libsbml.parseL3Formula(formula)
        assert ast is not None, formula
        r.setMath(ast)
    return libsbml.writeSBMLToString(doc)


@pytest.fixture(scope="module")
def document() -> str:
    return _document()


def test_compiled_math_matches_roadrunner(document: str) -> None:
    import roadrunner

    rr = roadrunner.RoadRunner(document)
    rr.simulate(0, T_EVAL, 3)
    expected = {f"y{i}": rr[f"y{i}"] for i in range(len(FORMULAS))}

    model = sbmljax.load_sbml(document)
    with jax.enable_x64(True):  # compile_network is internal: no entry point scopes it here
        net = compile_network(model)
        x0, p = net.initial_state(net.p_default)
        env = net.plan.env(x0, p, jnp.asarray(T_EVAL))
    for i, formula in enumerate(FORMULAS):
        got = float(env[f"y{i}"])
        assert got == pytest.approx(expected[f"y{i}"], rel=1e-12, abs=1e-12), formula


def test_math_is_differentiable_in_parameters() -> None:
    expr = convert(libsbml.parseL3Formula("k * x^2 / (K^2 + x^2)"))

    def f(k, K):
        return evaluate(expr, {"k": k, "K": K, "x": 3.0})

    dk, dK = jax.grad(f, argnums=(0, 1))(2.0, 1.5)
    assert float(dk) == pytest.approx(9 / (1.5**2 + 9))
    assert float(dK) == pytest.approx(-2.0 * 9 * 2 * 1.5 / (1.5**2 + 9) ** 2)


def test_delay_is_refused() -> None:
    ast = libsbml.parseL3Formula("delay(x, 2)")
    with pytest.raises(UnsupportedMath, match="delay"):
        convert(ast)


def test_unknown_function_is_refused() -> None:
    with pytest.raises(UnsupportedMath, match="nofun"):
        convert(libsbml.parseL3Formula("nofun(2)"))


def test_odd_root_of_negative_is_real() -> None:
    expr = convert(libsbml.parseL3Formula("root(3, -8)"))
    assert float(evaluate(expr, {})) == pytest.approx(-2.0)
    assert math.isnan(float(evaluate(convert(libsbml.parseL3Formula("root(2, -4)")), {})))


def test_piecewise_without_otherwise_is_nan_when_no_piece_holds() -> None:
    expr = convert(libsbml.parseL3Formula("piecewise(1, x > 2)"))
    assert float(evaluate(expr, {"x": 3.0})) == 1.0
    assert np.isnan(float(evaluate(expr, {"x": 1.0})))
