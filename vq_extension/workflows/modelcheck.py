"""Which model files a graph needs, and which of them the ComfyUI server lacks.

ComfyUI lists the files it has as the combo options of its loader nodes in
`GET /object_info`. A graph that names a file outside that list fails validation with
`value_not_in_list`; checking before submit lets vq say which file is missing and in
which `models/<folder>` it belongs, before a whole batch is queued.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

# (loader class, input) -> ComfyUI models folder, for the core loaders of ComfyUI 0.8.0.
MODEL_FOLDERS: dict[tuple[str, str], str] = {
    ("UNETLoader", "unet_name"): "diffusion_models",
    ("CLIPLoader", "clip_name"): "text_encoders",
    ("DualCLIPLoader", "clip_name1"): "text_encoders",
    ("DualCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name1"): "text_encoders",
    ("TripleCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name3"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name1"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name2"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name3"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name4"): "text_encoders",
    ("VAELoader", "vae_name"): "vae",
    ("LoraLoader", "lora_name"): "loras",
    ("LoraLoaderModelOnly", "lora_name"): "loras",
    ("CreateHookLora", "lora_name"): "loras",
    ("CreateHookLoraModelOnly", "lora_name"): "loras",
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints",
    ("CheckpointLoader", "ckpt_name"): "checkpoints",
    ("CheckpointLoader", "config_name"): "configs",
    ("ImageOnlyCheckpointLoader", "ckpt_name"): "checkpoints",
    ("unCLIPCheckpointLoader", "ckpt_name"): "checkpoints",
    ("UpscaleModelLoader", "model_name"): "upscale_models",
    ("CLIPVisionLoader", "clip_name"): "clip_vision",
    ("ControlNetLoader", "control_net_name"): "controlnet",
    ("DiffControlNetLoader", "control_net_name"): "controlnet",
    ("StyleModelLoader", "style_model_name"): "style_models",
    ("GLIGENLoader", "gligen_name"): "gligen",
    ("HypernetworkLoader", "hypernetwork_name"): "hypernetworks",
}

# For loaders not in the table (custom packs, newer versions): guess from the input name,
# but only on nodes whose category says they load something.
_INPUT_FOLDERS = {
    "unet_name": "diffusion_models",
    "lora_name": "loras",
    "vae_name": "vae",
    "ckpt_name": "checkpoints",
    "control_net_name": "controlnet",
    "clip_name": "text_encoders",
}

# options_source name -> (node class, input) whose combo options are that live list.
OPTION_SOURCES: dict[str, tuple[str, str]] = {
    "loras": ("LoraLoaderModelOnly", "lora_name"),
    "checkpoints": ("CheckpointLoaderSimple", "ckpt_name"),
    "diffusion_models": ("UNETLoader", "unet_name"),
    "text_encoders": ("CLIPLoader", "clip_name"),
    "vae": ("VAELoader", "vae_name"),
    "upscale_models": ("UpscaleModelLoader", "model_name"),
    "clip_vision": ("CLIPVisionLoader", "clip_name"),
    "samplers": ("KSampler", "sampler_name"),
    "schedulers": ("KSampler", "scheduler"),
}


@dataclass(frozen=True)
class MissingModel:
    node_id: str
    class_type: str
    input: str
    name: str  # the file name the graph asks for
    folder: str  # ComfyUI models folder it belongs in, e.g. "loras"

    @property
    def message(self) -> str:
        return (f"{self.name!r} is not in ComfyUI's models/{self.folder} folder "
                f"(node {self.node_id}, {self.class_type}.{self.input})")

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "message": self.message}


def input_spec(info: dict[str, Any], name: str) -> list[Any] | None:
    """The object_info spec `[type, {options}]` of a required or optional input, or None."""
    inputs = info.get("input") or {}
    for section in ("required", "optional"):
        spec = (inputs.get(section) or {}).get(name)
        if spec is not None:
            return spec if isinstance(spec, list) else [spec]
    return None


def combo_options(spec: list[Any]) -> list[Any] | None:
    """Options of a combo input in either object_info style (`[[...]]` or `["COMBO", {"options"}]`)."""
    kind = spec[0] if spec else None
    if isinstance(kind, list):
        return kind
    if kind == "COMBO":
        opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
        return list(opts.get("options", []))
    return None


def model_folder(class_type: str, input_name: str, info: dict[str, Any] | None) -> str | None:
    folder = MODEL_FOLDERS.get((class_type, input_name))
    if folder is None and info is not None and "loader" in str(info.get("category", "")).lower():
        folder = _INPUT_FOLDERS.get(input_name)
    return folder


def missing_models(graph: dict[str, Any], object_info: dict[str, Any]) -> list[MissingModel]:
    """Every model file the graph names that the server's loader combos do not offer."""
    missing = []
    for node_id in sorted(graph, key=_id_order):
        node = graph[node_id]
        class_type = node.get("class_type", "")
        info = object_info.get(class_type)
        if info is None:
            continue  # an unknown class is a graph error, reported by validation, not a missing file
        for input_name, value in node.get("inputs", {}).items():
            if not isinstance(value, str):
                continue
            folder = model_folder(class_type, input_name, info)
            spec = input_spec(info, input_name) if folder else None
            options = combo_options(spec) if spec else None
            if options is not None and value not in options:
                missing.append(MissingModel(node_id, class_type, input_name, value, folder))
    return missing


def options_from_object_info(object_info: dict[str, Any]) -> Callable[[str], list[str]]:
    """An `options(source)` callable for Catalog, reading the live lists out of object_info."""

    def options(source: str) -> list[str]:
        if source not in OPTION_SOURCES:
            raise LookupError(f"unknown options source {source!r}; known: {', '.join(sorted(OPTION_SOURCES))}")
        class_type, input_name = OPTION_SOURCES[source]
        info = object_info.get(class_type)
        spec = input_spec(info, input_name) if info else None
        return [str(o) for o in (combo_options(spec) or [])] if spec else []

    return options


def _id_order(node_id: str) -> tuple[int, int | str]:
    return (0, int(node_id)) if node_id.isdigit() else (1, node_id)
