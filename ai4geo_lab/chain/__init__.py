"""The processing chain: a registry of steps, run configurations, tiled execution, resume and lineage."""

from ai4geo_lab.chain.config import RunConfig, StepConfig, load_config
from ai4geo_lab.chain.registry import get_step, list_steps
from ai4geo_lab.chain.runner import RunResult, run

__all__ = ["RunConfig", "RunResult", "StepConfig", "get_step", "list_steps", "load_config", "run"]
