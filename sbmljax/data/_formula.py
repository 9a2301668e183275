"""Observable and noise formulas: text → `sbmljax._expr` tree, and the `Observable` record.

Formulas are parsed by libsbml's Level 3 infix parser and converted by the same code as SBML math, so they
evaluate with `jax.numpy` and are differentiable in their parameters; nothing is `eval`ed. PEtab writes
formulas for sympy: `**` is read as `^`, and `log(x)` is the natural logarithm (libsbml's default would be
base 10).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import libsbml

from .._expr import Expr, Sym, symbols, to_string
from ..errors import DataError
from ..sbml._mathml import UnsupportedMath, convert

NoiseDistribution = Literal["normal", "laplace", "poisson", "negative_binomial", "binomial"]
Transformation = Literal["lin", "log", "log10"]
DISTRIBUTIONS: tuple[str, ...] = ("normal", "laplace", "poisson", "negative_binomial", "binomial")
"""Measurement distributions: PEtab's (`normal`, `laplace`) and count models (see `sbmljax.log_likelihood`)."""
COUNT_DISTRIBUTIONS: frozenset[str] = frozenset({"poisson", "negative_binomial", "binomial"})
TRANSFORMATIONS: tuple[str, ...] = ("lin", "log", "log10")


def parse_formula(text: str, where: str) -> Expr:
    """Parse an infix formula (`I`, `scale * I`, `sqrt(I) + 1`) into an expression tree.

    **Arguments:**

    - `text`: the formula.
    - `where`: where it comes from (file, row, column), for the error message.

    **Returns:** the tree; a bare name is a `Sym`.

    **Raises:** `DataError` naming `where` for a syntax error or a construct SBML math cannot express.
    """
    settings = libsbml.L3ParserSettings()
    settings.setParseLog(libsbml.L3P_PARSE_LOG_AS_LN)
    ast = libsbml.parseL3FormulaWithSettings(str(text).replace("**", "^"), settings)
    if ast is None:
        reason = " ".join(libsbml.getLastParseL3Error().split())
        raise DataError(f"{where}: cannot parse formula {text!r}: {reason}")
    try:
        return convert(ast)
    except UnsupportedMath as e:
        raise DataError(f"{where}: formula {text!r}: {e}") from None


@dataclasses.dataclass(frozen=True)
class Observable:
    """What is measured, as a formula of the model's species (molecule counts) and parameters.

    **Attributes:**

    - `id`: the observable id (a PEtab `observableId`, or a species id in the quick CSV form).
    - `formula`: the formula text; `expr` its tree.
    - `noise_formula`: the noise standard deviation as text (a number, a parameter id or a formula of
      parameters, species and `noiseParameter{k}_{id}` placeholders), or `None` when the noise is unknown
      (least squares then estimates one common variance from the residuals); `noise` its tree.
    - `distribution`: the measurement distribution: `"normal"` (additive Gaussian, the default; the moment
      losses and the ODE fit support only this), `"laplace"` (PEtab's), or a count model for
      `sbmljax.log_likelihood`: `"poisson"` (mean = the formula; the noise formula is not used),
      `"negative_binomial"` (mean = the formula, the noise formula is the size `k`: variance `μ + μ²/k`),
      `"binomial"` (the formula is the number of trials, e.g. a count; the noise formula is the reporting
      probability).
    - `transformation`: PEtab's `observableTransformation`: `"lin"`, `"log"` or `"log10"` (the noise acts
      on the transformed observable and measurement); normal and laplace only.
    """

    id: str
    formula: str
    expr: Expr
    noise_formula: str | None = None
    noise: Expr | None = None
    distribution: NoiseDistribution = "normal"
    transformation: Transformation = "lin"

    def __post_init__(self):
        if self.distribution not in DISTRIBUTIONS:
            raise DataError(
                f"observable '{self.id}': noise distribution {self.distribution!r} is not supported "
                f"(one of {', '.join(DISTRIBUTIONS)})"
            )
        if self.transformation not in TRANSFORMATIONS:
            raise DataError(
                f"observable '{self.id}': transformation {self.transformation!r} is not one of "
                f"{', '.join(TRANSFORMATIONS)}"
            )
        if self.transformation != "lin" and self.distribution in COUNT_DISTRIBUTIONS:
            raise DataError(
                f"observable '{self.id}': a {self.distribution} count model takes the 'lin' transformation only"
            )
        if (self.noise is None) != (self.noise_formula is None):
            raise DataError(f"observable '{self.id}': give both noise_formula and its parsed noise, or neither")

    @classmethod
    def parse(
        cls,
        id: str,
        formula: str,
        noise_formula: str | float | None = None,
        *,
        where: str = "",
        distribution: NoiseDistribution = "normal",
        transformation: Transformation = "lin",
    ) -> Observable:
        """An observable from formula text (`noise_formula` may be a number, text or `None`).

        **Arguments:**

        - `id`: the observable id.
        - `formula`: the observable formula.
        - `noise_formula`: the noise SD formula, a number, or `None` (unknown noise).
        - `where`: the source, for error messages.
        - `distribution`, `transformation`: as the attributes.

        **Returns:** the `Observable`.

        **Raises:** `DataError` naming `where` and the observable for a formula that does not parse.
        """
        at = f"{where}, observable '{id}'" if where else f"observable '{id}'"
        expr = parse_formula(formula, at)
        if noise_formula is None:
            return cls(id, str(formula), expr, distribution=distribution, transformation=transformation)
        noise_text = repr(float(noise_formula)) if isinstance(noise_formula, (int, float)) else str(noise_formula)
        noise = parse_formula(noise_text, f"{at} (noise formula)")
        return cls(id, str(formula), expr, noise_text, noise, distribution, transformation)

    @property
    def plain(self) -> bool:
        """Normal noise on the linear scale: what the moment losses and the ODE fit assume."""
        return self.distribution == "normal" and self.transformation == "lin"

    def symbols(self) -> frozenset[str]:
        """Every symbol the observable and noise formulas read."""
        return symbols(self.expr) | (symbols(self.noise) if self.noise is not None else frozenset())

    def describe(self) -> str:
        """`id = formula (noise SD: ...)`, for messages."""
        noise = to_string(self.noise) if self.noise is not None else "unknown"
        return f"{self.id} = {to_string(self.expr)} (noise SD: {noise})"


def species_observable(sid: str, noise_sd: float | None = None) -> Observable:
    """The observable that reads species `sid` directly (the quick CSV form)."""
    noise = None if noise_sd is None else parse_formula(repr(float(noise_sd)), f"noise SD of '{sid}'")
    return Observable(sid, sid, Sym(sid), None if noise_sd is None else repr(float(noise_sd)), noise)
