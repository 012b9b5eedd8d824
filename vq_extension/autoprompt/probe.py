"""The capability gate: is LM Studio there, which models does it have, which are loaded,
which can see images (reference section 4).

``GET /v1/models`` answers on every OpenAI-compatible server but says only ids; the
native listings (``/api/v1/models`` on LM Studio 0.4+, ``/api/v0/models`` on 0.3.6+) add
loaded state and vision. The richest answer wins; a server with neither (Ollama, vLLM)
is still usable, with loaded/vision unknown (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .client import MODEL_SETTING
from .errors import AutopromptError, AutopromptUnavailable


class ModelLister(Protocol):
    url: str

    async def get_json(self, path: str) -> tuple[int, Any]: ...


@dataclass(frozen=True)
class ModelInfo:
    id: str  # the id chat requests must name
    loaded: bool | None = None  # None: this server does not say
    vision: bool | None = None
    aliases: tuple[str, ...] = ()  # other names LM Studio knows it by (0.4's key vs instance id)

    def named(self, wanted: str) -> bool:
        """Case-insensitive, with or without the publisher prefix: settings are typed by
        hand (``Qwen3-VL-8B``) while LM Studio lists ``qwen/qwen3-vl-8b``."""
        wanted = wanted.strip().lower()
        for name in (self.id, *self.aliases):
            name = name.lower()
            if wanted in (name, name.rsplit("/", 1)[-1]):
                return True
        return False

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "loaded": self.loaded, "vision": self.vision}


@dataclass(frozen=True)
class ProbeResult:
    url: str
    reachable: bool
    source: str | None = None  # the listing that described the models: api/v1, api/v0 or v1
    models: tuple[ModelInfo, ...] = ()
    error: str | None = None
    hint: str | None = None

    def find(self, model: str) -> ModelInfo | None:
        return next((m for m in self.models if m.named(model)), None)

    def require(self, stage: str, model: str) -> ModelInfo:
        """The model a stage will use, or AutopromptUnavailable saying what to do."""
        if not self.reachable or self.error:
            raise AutopromptUnavailable(self.error or f"LM Studio is not reachable at {self.url}",
                                        hint=self.hint, stage=stage)
        info = self.find(model)
        if info is None:
            listed = ", ".join(m.id for m in self.models[:8]) or "none"
            raise AutopromptUnavailable(
                f"LM Studio at {self.url} does not list the {stage} model {model!r} (it lists: {listed})",
                hint=f"Start LM Studio and load {model}, or set {MODEL_SETTING[stage]} to a listed model",
                stage=stage)
        if stage == "caption" and info.vision is False:
            raise AutopromptUnavailable(
                f"{info.id} is a text-only model; captions need a vision model", stage=stage,
                hint=f"Load a vision model (type vlm) and set {MODEL_SETTING[stage]} to it")
        return info

    def stage_status(self, stage: str, model: str) -> dict[str, Any]:
        """One stage as the UI shows it: usable or not, and why not."""
        try:
            info = self.require(stage, model)
        except AutopromptUnavailable as exc:
            return {"model": model, "available": False, "message": exc.message, "hint": exc.hint}
        note = None
        if info.loaded is False:
            note = f"{info.id} is not loaded; the first request loads it (JIT) and may take a while"
        return {"model": info.id, "available": True, "loaded": info.loaded, "vision": info.vision, "note": note}

    def as_dict(self, caption_model: str, motion_model: str) -> dict[str, Any]:
        return {
            "url": self.url, "reachable": self.reachable, "source": self.source, "error": self.error,
            "hint": self.hint, "models": [m.as_dict() for m in self.models],
            "stages": {"caption": self.stage_status("caption", caption_model),
                       "motion": self.stage_status("motion", motion_model)},
        }


async def probe(client: ModelLister) -> ProbeResult:
    """Ask the server what it has; never raises for LM Studio's sake (an unreachable server
    is a result, with a hint)."""
    try:
        status, body = await client.get_json("/v1/models")
    except AutopromptError as exc:
        return ProbeResult(client.url, reachable=False, error=exc.message, hint=exc.hint)
    if status in (401, 403):
        return ProbeResult(client.url, reachable=True, error=f"LM Studio at {client.url} requires an API token",
                           hint="Turn off 'Require Authentication' in LM Studio's server settings")
    ids = parse_openai_models(body) if status == 200 else None
    if ids is None:
        return ProbeResult(client.url, reachable=True,
                           error=f"{client.url}/v1/models answered {status} without a model list",
                           hint="Set lmstudio_url to LM Studio's server address (default http://127.0.0.1:1234)")
    for path, parse in (("/api/v1/models", parse_api_v1), ("/api/v0/models", parse_api_v0)):
        try:
            status, body = await client.get_json(path)
        except AutopromptError:
            continue  # the native listing is a bonus; /v1/models already answered
        models = parse(body) if status == 200 else None
        if models is not None:
            return ProbeResult(client.url, reachable=True, source=path.strip("/").removesuffix("/models"),
                               models=tuple(models))
    return ProbeResult(client.url, reachable=True, source="v1", models=tuple(ModelInfo(i) for i in ids))


def parse_openai_models(body: Any) -> list[str] | None:
    """``{"object": "list", "data": [{"id": ...}]}`` (section 2.1): ids only."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]


def parse_api_v0(body: Any) -> list[ModelInfo] | None:
    """LM Studio 0.3.6+ (section 2.2): ``type`` llm / vlm / embeddings, ``state`` loaded or not."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return [ModelInfo(str(m["id"]), loaded=m.get("state") == "loaded", vision=m.get("type") == "vlm")
            for m in data if isinstance(m, dict) and m.get("id") and m.get("type") != "embeddings"]


def parse_api_v1(body: Any) -> list[ModelInfo] | None:
    """LM Studio 0.4+ (section 2.3): ``capabilities.vision``; loaded when ``loaded_instances``
    is not empty, and then requests name the instance id."""
    models = body.get("models") if isinstance(body, dict) else None
    if not isinstance(models, list):
        return None
    out = []
    for m in models:
        if not isinstance(m, dict) or not m.get("key") or m.get("type") == "embedding":
            continue
        instances = [str(i["id"]) for i in m.get("loaded_instances") or [] if isinstance(i, dict) and i.get("id")]
        capabilities = m.get("capabilities") if isinstance(m.get("capabilities"), dict) else {}
        key = str(m["key"])
        out.append(ModelInfo(instances[0] if instances else key, loaded=bool(instances),
                             vision=bool(capabilities.get("vision")),
                             aliases=tuple(dict.fromkeys([key, *instances[1:], str(m.get("display_name") or key)]))))
    return out
