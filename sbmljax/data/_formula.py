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

NoiseDistribution = Literal["normal"]


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
    - `distribution`: the measurement noise distribution; only `"normal"` (additive Gaussian) is supported.
    """

    id: str
    formula: str
    expr: Expr
    noise_formula: str | None = None
    noise: Expr | None = None
    distribution: NoiseDistribution = "normal"

    def __post_init__(self):
        if self.distribution != "normal":
            raise DataError(
                f"observable '{self.id}': noise distribution {self.distribution!r} is not supported (only 'normal')"
            )
        if (self.noise is None) != (self.noise_formula is None):
            raise DataError(f"observable '{self.id}': give both noise_formula and its parsed noise, or neither")

    @classmethod
    def parse(cls, id: str, formula: str, noise_formula: str | float | None = None, *, where: str = "") -> Observable:
        """An observable from formula text (`noise_formula` may be a number, text or `None`).

        **Arguments:**

        - `id`: the observable id.
        - `formula`: the observable formula.
        - `noise_formula`: the noise SD formula, a number, or `None` (unknown noise).
        - `where`: the source, for error messages.

        **Returns:** the `Observable`.

        **Raises:** `DataError` naming `where` and the observable for a formula that does not parse.
        """
        at = f"{where}, observable '{id}'" if where else f"observable '{id}'"
        expr = parse_formula(formula, at)
        if noise_formula is None:
            return cls(id, str(formula), expr)
        noise_text = repr(float(noise_formula)) if isinstance(noise_formula, (int, float)) else str(noise_formula)
        return cls(id, str(formula), expr, noise_text, parse_formula(noise_text, f"{at} (noise formula)"))

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
