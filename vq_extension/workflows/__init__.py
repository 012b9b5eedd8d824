"""Workflow definitions: schema, catalog, parameter resolution, rendering and submit planning.

Pure code: nothing here imports ComfyUI. Node schemas (`object_info`) and live option
lists are passed in as data or callables.
"""

from .catalog import (
    Catalog,
    DefinitionProblem,
    WorkflowNotFound,
    load_workflow,
    schema_problems,
)
from .graphcheck import check_graph
from .loaded import DefinitionInvalid, LoadedWorkflow
from .modelcheck import MissingModel, missing_models, options_from_object_info
from .params import ParamError, prompt_params, resolve_params, timing
from .plan import PROMPT_MODES, InputError, PlannedPrompt, discover_inputs, plan_prompts
from .render import render
from .schema import InputSpec, ParamDef, WorkflowDef

__all__ = [
    "PROMPT_MODES", "Catalog", "DefinitionInvalid", "DefinitionProblem", "InputError", "InputSpec",
    "LoadedWorkflow", "MissingModel", "ParamDef", "ParamError", "PlannedPrompt", "WorkflowDef",
    "WorkflowNotFound", "check_graph", "discover_inputs", "load_workflow", "missing_models",
    "options_from_object_info", "plan_prompts", "prompt_params", "render", "resolve_params",
    "schema_problems", "timing",
]
