"""``vq autoprompt``: the auto-prompt harness for reviewing and iterating on prompts.

It asks the server (``POST /vq/v1/autoprompt/runs``), never LM Studio itself: the LM
Studio address, the models and the cache are the server's, so the CLI sees exactly what
the sidebar would. Progress per stage is drawn on stderr while it polls the run; the
result maps file -> caption -> prompt(s), as JSON (reusable as ``--captions-file`` for
stage-2-only reruns) or Markdown (for reading).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .body import local_path
from .errors import ApiError, CliError, ExitCode, JobEnded, UsageError
from .http import VqClient
from .output import IO, bar, plural

Clock = Callable[[], float]
STAGES = ("caption", "motion", "both")
OUT_FORMATS = (".json", ".md")
HELP = "generate captions and motion prompts for images with LM Studio (through the server)"
EPILOG = """\
examples:
  vq autoprompt ~/stills --workflow wan-i2v --out prompts.json
  vq autoprompt ~/stills --workflow wan-i2v --stage caption --out captions.json
  vq autoprompt --workflow wan-i2v --stage motion --captions-file captions.json --system-prompt-override wind.txt --out try2.md"""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="*", metavar="FOLDER|FILE",
                   help="images, or folders of them (default with --captions-file: the files it lists)")
    p.add_argument("--workflow", required=True, metavar="NAME", help="workflow the prompts are for (timing, clips)")
    p.add_argument("--stage", choices=STAGES, default="both",
                   help="caption: stage 1 only; motion: stage 2 only, from --captions-file; both (default)")
    p.add_argument("--captions-file", metavar="F", help="captions from an earlier --out F.json (or {file: caption})")
    p.add_argument("--system-prompt-override", metavar="F", help="a text file replacing the stage-2 instructions")
    p.add_argument("--out", metavar="F.json|F.md", type=_out_path, help="write the result to F (.json or .md)")


def _out_path(text: str) -> str:
    if Path(text).suffix.lower() not in OUT_FORMATS:
        raise argparse.ArgumentTypeError(f"--out must end in .json or .md, not {text!r}")
    return text


def run_autoprompt(args: argparse.Namespace, io: IO, session: VqClient, _now: Clock) -> int:
    captions = load_captions(Path(args.captions_file)) if args.captions_file else None
    if args.stage == "motion" and captions is None:
        raise UsageError("--stage motion needs --captions-file (the JSON a caption run wrote with --out)")
    override = _read_text(args.system_prompt_override) if args.system_prompt_override else None
    description = session.get(f"/workflows/{args.workflow}")
    paths = image_paths(args.inputs, description["input"].get("extensions") or [], captions)
    body: dict[str, Any] = {"image_paths": paths, "workflow_name": args.workflow, "stage": args.stage}
    if args.stage == "motion" and captions is not None:
        missing = [p for p in paths if not captions.get(p)]
        if missing:
            raise UsageError(f"{args.captions_file} has no caption for {plural(len(missing), 'file')}: "
                             f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        body["captions"] = {p: captions[p] for p in paths}
    if override is not None:
        body["system_prompt_override"] = override
    result = follow_run(io, session, session.post("/autoprompt/runs", body), interval=args.interval)
    review = as_review(args.workflow, result)
    failed = check_result(review)
    if args.out:
        _write(Path(args.out), review)
        io.err(f"wrote {args.out}: {plural(len(review['files']), 'file')}; cache hits: "
               f"{review['cache_hits'].get('caption', 0)} captions, {review['cache_hits'].get('motion', 0)} prompts")
    elif args.json:
        io.json(result)
    else:
        io.out(markdown(review))
    for path, problem in failed:
        io.err(f"vq: {path}: {problem}")
    if failed:
        raise CliError(f"{plural(len(failed), 'file')} of {len(review['files'])} failed",
                       hint="the other files' prompts were written; rerun to retry only the failed ones "
                            "(the rest come from the cache)")
    return ExitCode.OK


def image_paths(inputs: list[str], extensions: list[str], captions: dict[str, str] | None) -> list[str]:
    """Files as given, folders expanded to their images (sorted, not recursive), absolute
    when they exist here; with no inputs, the files of the captions file."""
    if not inputs:
        if not captions:
            raise UsageError("give images or folders (or --captions-file to reuse its files)")
        return list(captions)
    wanted = {e.lower() for e in extensions}
    out: list[str] = []
    for raw in inputs:
        path = local_path(raw)
        if os.path.isdir(path):
            found = sorted(str(Path(path) / name) for name in os.listdir(path)
                           if not name.startswith(".") and Path(name).suffix.lower() in wanted
                           and os.path.isfile(os.path.join(path, name)))
            if not found:
                raise UsageError(f"{raw} has no images ({', '.join(sorted(wanted))})")
            out += found
        else:
            out.append(path)  # a file here, or a path on the ComfyUI host: the server checks it
    return list(dict.fromkeys(out))


def load_captions(path: Path) -> dict[str, str]:
    """An earlier ``--out F.json`` (``files`` -> ``caption``) or a plain ``{file: caption}``."""
    try:
        data = json.loads(_read_text(str(path)))
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    files = data.get("files") if isinstance(data, dict) and isinstance(data.get("files"), dict) else data
    if not isinstance(files, dict):
        raise UsageError(f"{path}: expected {{\"files\": {{file: {{\"caption\": ...}}}}}} or {{file: caption}}")
    captions = {}
    for name, entry in files.items():
        caption = entry.get("caption") if isinstance(entry, dict) else entry
        if isinstance(caption, str) and caption.strip():
            captions[local_path(name)] = caption
    if not captions:
        raise UsageError(f"{path} holds no captions")
    return captions


def _read_text(name: str) -> str:
    try:
        return Path(os.path.expanduser(name)).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None


# --- following the run ------------------------------------------------------------------------


def follow_run(io: IO, session: VqClient, run: dict[str, Any], *, interval: float) -> dict[str, Any]:
    """Poll the run until it ends, drawing one progress line per stage on stderr; Ctrl-C
    cancels the run on the server (nothing else would stop LM Studio's work)."""
    drawn: dict[str, tuple[int, int]] = {}
    try:
        while True:
            _draw(io, run, drawn)
            if run["status"] != "running":
                break
            io.sleep(interval)
            run = session.get(f"/autoprompt/runs/{run['id']}")
    except KeyboardInterrupt:
        session.post(f"/autoprompt/runs/{run['id']}/cancel")
        io.err(f"\nvq: canceled auto-prompt run {run['id']}")
        raise
    if run["status"] == "succeeded":
        return run["result"]
    if run["status"] == "canceled":
        raise JobEnded(f"auto-prompt run {run['id']} was canceled")
    error = run.get("error") or {}
    raise ApiError(int(error.get("status") or 502), str(error.get("code") or "autoprompt_failed"),
                   str(error.get("message") or f"auto-prompt run {run['id']} failed"),
                   hint=error.get("hint"))  # e.g. "Start LM Studio and load <model>"


def _draw(io: IO, run: dict[str, Any], drawn: dict[str, tuple[int, int]]) -> None:
    """A terminal gets the current stage's bar redrawn in place; a pipe gets a line when a
    stage finishes, so a log reads as a history."""
    for stage, progress in (run.get("progress") or {}).items():
        done, total = int(progress.get("done", 0)), int(progress.get("total", 0))
        started = done > 0 or stage == run.get("current_stage")
        if not started or drawn.get(stage) == (done, total):
            continue
        line = f"{stage.ljust(7)} {bar(done / total if total else 1, 30)} {done}/{total}"
        if io.stdout_tty:
            io.stderr.write("\r" + line + ("\n" if done >= total else ""))
            io.stderr.flush()
        elif done >= total:
            io.err(line)
        drawn[stage] = (done, total)


# --- output -------------------------------------------------------------------------------


def as_review(workflow: str, result: dict[str, Any]) -> dict[str, Any]:
    """The server's answer keyed by file, in the order sent: what --out F.json holds."""
    files = {}
    for entry in result.get("results") or []:
        files[entry["path"]] = {k: v for k, v in entry.items() if k != "path"}
    return {"workflow": workflow, "stage1_model": result.get("stage1_model"),
            "stage2_model": result.get("stage2_model"), "clips": int(result.get("clips") or 1),
            "elapsed_seconds": result.get("elapsed_seconds"), "cache_hits": result.get("cache_hits") or {},
            "files": files}


def check_result(review: dict[str, Any]) -> list[tuple[str, str]]:
    """Files that failed, and split output that does not have one prompt per clip (the
    server validates it too; a harness that misses a short list would hide a bug)."""
    clips, failed = review["clips"], []
    for path, entry in review["files"].items():
        if entry.get("error"):
            error = entry["error"]
            failed.append((path, f"{error.get('stage', '')} failed: {error.get('message', error)}"))
        elif clips > 1 and "clip_prompts" in entry and (
                len(entry["clip_prompts"]) != clips or not all(str(c).strip() for c in entry["clip_prompts"])):
            failed.append((path, f"expected {clips} clip prompts, got {len(entry['clip_prompts'])}"))
    return failed


def markdown(review: dict[str, Any]) -> str:
    models = " -> ".join(m for m in (review["stage1_model"], review["stage2_model"]) if m)
    lines = [f"# Auto-prompt for {review['workflow']}: {plural(len(review['files']), 'file')}", "",
             f"Models: {models or '-'}; clips per video: {review['clips']}", ""]
    for path, entry in review["files"].items():
        lines += [f"## {Path(path).name}", "", f"`{path}`", ""]
        if "caption" in entry:
            lines += [f"**Caption:** {entry['caption']}", ""]
        if "motion_prompt" in entry:
            lines += [f"**Prompt:** {entry['motion_prompt']}", ""]
        for k, clip in enumerate(entry.get("clip_prompts") or [], 1):
            lines += [f"**Clip {k}:** {clip}", ""]
        if entry.get("error"):
            lines += [f"**Error ({entry['error'].get('stage', '')}):** {entry['error'].get('message', '')}", ""]
    return "\n".join(lines).rstrip() + "\n"


def _write(path: Path, review: dict[str, Any]) -> None:
    text = json.dumps(review, indent=2, ensure_ascii=False) + "\n" if path.suffix.lower() == ".json" \
        else markdown(review)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
