"""The deterministic reference: libRoadRunner's ODE solution of an SBML model, in molecule counts, and a
least-squares ODE fit to data (`fit_ode`).

- `ode(model, params, t_eval)` → `OdeSolution` (`times`, `values (T, S)` counts, `species`);
- `ode_sensitivities(model, params, t_eval, wrt)` → `(values, d values / d params)`;
- `fit_ode(problem)` → `OdeFit`.
"""

from __future__ import annotations

from ._fit_ode import OdeFit as OdeFit
from ._fit_ode import fit_ode as fit_ode
from ._tellurium import OdeSolution as OdeSolution
from ._tellurium import ode as ode
from ._tellurium import ode_sensitivities as ode_sensitivities

__all__ = ["OdeFit", "OdeSolution", "fit_ode", "ode", "ode_sensitivities"]
