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
from pinfer.smc.mcmc import MCMCKernel, hmc_step, rwm_step
from pinfer.smc.numpyro_bridge import (
    NumpyroTarget,
    numpyro_target,
    tempered_smc_numpyro,
)
from pinfer.smc.particle_filter import ParticleFilterResult, particle_filter
from pinfer.smc.resampling import multinomial, residual, stratified, systematic
from pinfer.smc.schedule import next_temperature
from pinfer.smc.simulation import simulate
from pinfer.smc.smoothing import backward_simulation
from pinfer.smc.ssm import AbstractStateSpaceModel, prepared
from pinfer.smc.streaming import (
    ParticleFilterState,
    Proposal,
    bootstrap_proposal,
    guided_proposal,
    pf_init,
    pf_step,
)
from pinfer.smc.tempered import (
    TemperedSMCInfo,
    TemperedSMCResult,
    TemperedSMCState,
    build_tempered_smc,
    tempered_smc,
)
from pinfer.smc.tuning import build_hmc, build_rwm

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
    "backward_simulation",
    "bootstrap_proposal",
    "guided_proposal",
    "particle_filter",
    "pf_init",
    "pf_step",
    "prepared",
    "simulate",
    "smc_step",
    "ess",
    "log_ess",
    "multinomial",
    "resampling",
    "residual",
    "stratified",
    "systematic",
    "MCMCKernel",
    "NumpyroTarget",
    "TemperedSMCInfo",
    "TemperedSMCResult",
    "TemperedSMCState",
    "build_hmc",
    "build_rwm",
    "build_tempered_smc",
    "hmc_step",
    "next_temperature",
    "numpyro_target",
    "rwm_step",
    "tempered_smc",
    "tempered_smc_numpyro",
]
