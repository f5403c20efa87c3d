"""The pipeline: the registry of steps, run configurations, the runner, and ``run_step`` for one step."""

from ai4geo_lab.pipeline.config import RunConfig, StepConfig, load_config
from ai4geo_lab.pipeline.registry import get_step, list_steps, register
from ai4geo_lab.pipeline.runner import RunResult, run
from ai4geo_lab.pipeline.single import run_step
from ai4geo_lab.pipeline.spec import StepSpec

__all__ = ["RunConfig", "RunResult", "StepConfig", "StepSpec", "get_step", "list_steps", "load_config", "register",
           "run", "run_step"]
