"""Sequential Monte Carlo: resampling, particle filters, tempered SMC."""

from pinfer.diagnostics import ess, log_ess
from pinfer.smc import resampling
from pinfer.smc.resampling import multinomial, residual, stratified, systematic

__all__ = [
    "ess",
    "log_ess",
    "multinomial",
    "resampling",
    "residual",
    "stratified",
    "systematic",
]
