"""Sequential Monte Carlo: resampling, particle filters, tempered SMC."""

from pinfer.diagnostics import ess, log_ess
from pinfer.smc import resampling
from pinfer.smc.annealed import (
    annealed_log_lookahead,
    annealed_resample,
    annealing_exponent,
    entropy_fraction,
    ess_fraction,
    tempered_resample,
)
from pinfer.smc.base import SMCInfo, SMCState, smc_step
from pinfer.smc.particle_filter import ParticleFilterResult, particle_filter
from pinfer.smc.resampling import multinomial, residual, stratified, systematic
from pinfer.smc.ssm import AbstractStateSpaceModel
from pinfer.smc.streaming import (
    ParticleFilterState,
    Proposal,
    bootstrap_proposal,
    guided_proposal,
    pf_init,
    pf_step,
)

__all__ = [
    "annealed_log_lookahead",
    "annealed_resample",
    "annealing_exponent",
    "entropy_fraction",
    "ess_fraction",
    "tempered_resample",
    "AbstractStateSpaceModel",
    "ParticleFilterResult",
    "ParticleFilterState",
    "Proposal",
    "SMCInfo",
    "SMCState",
    "bootstrap_proposal",
    "guided_proposal",
    "particle_filter",
    "pf_init",
    "pf_step",
    "smc_step",
    "ess",
    "log_ess",
    "multinomial",
    "resampling",
    "residual",
    "stratified",
    "systematic",
]
