"""plan_prompts and discover_inputs: files × tries, seeds, per-file prompts, prompt modes — and each error."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from vq_extension.workflows import InputError, ParamError, discover_inputs, plan_prompts

FILES = ["/data/in/cat.png", "/data/in/dog.png"]
STAGED = {"/data/in/cat.png": "vq/3f/cat.png", "/data/in/dog.png": "vq/9a/dog.png"}


def plan(wf, **kw):
    args = dict(files=list(FILES), params={"positive_prompt": "shared"}, per_file_params={}, prompt_mode="manual",
                tries=1, seed=None, randomize_seed=False, rng=random.Random(1), input_names=STAGED)
    args.update(kw)
    return plan_prompts(wf, **args)


def text(prompt, node="9"):
    return prompt.graph[node]["inputs"]["text"]


def test_golden_multi_try_with_per_file_prompt(shipped, golden):
    prompts = plan(shipped("wan-i2v"), tries=2, randomize_seed=True, rng=random.Random(1234),
                   prompt_mode="per-image manual", per_file_params={"/data/in/dog.png": {"positive_prompt": "The dog wags."}})
    golden("wan-i2v-multi-try", [{"input_file": p.input_file, "try_index": p.try_index, "seed": p.seed,
                                  "graph": p.graph} for p in prompts])


def test_files_times_tries_file_major_with_staged_names(shipped):
    prompts = plan(shipped("wan-i2v"), tries=3, seed=100)
    assert [(p.input_file, p.try_index, p.seed) for p in prompts] == [
        (FILES[0], 0, 100), (FILES[0], 1, 101), (FILES[0], 2, 102),
        (FILES[1], 0, 100), (FILES[1], 1, 101), (FILES[1], 2, 102)]
    assert {p.graph["11"]["inputs"]["image"] for p in prompts} == set(STAGED.values())
    assert all("/data/in" not in str(p.graph) for p in prompts)
    assert [p.graph["13"]["inputs"]["noise_seed"] for p in prompts] == [100, 101, 102] * 2
    assert prompts[0].params["seed"] == 100 and prompts[0].params is not prompts[3].params


def test_fixed_seed_defaults_to_the_seed_parameter(shipped):
    prompts = plan(shipped("wan-i2v"), params={"positive_prompt": "p", "seed": 77}, tries=2)
    assert [p.seed for p in prompts] == [77, 78, 77, 78]


def test_random_seeds_are_fresh_per_prompt_and_reproducible(shipped):
    wf = shipped("wan-context-2stage-split-prompts")
    params = {"positive_prompt_stage1": "a", "positive_prompt_stage2": "b"}
    one = plan(wf, params=params, tries=3, randomize_seed=True, rng=random.Random(5), seed=123)
    two = plan(wf, params=params, tries=3, randomize_seed=True, rng=random.Random(5))
    seeds = [p.seed for p in one]
    assert seeds == [p.seed for p in two] and len(set(seeds)) == 6 and all(0 <= s < 2**53 for s in seeds)
    for p in one:  # the derived stage seed follows each prompt's own seed
        assert p.graph["33"]["inputs"]["noise_seed"] == p.params["seed_stage2"] == p.seed + 1


def test_per_file_override_applies_to_its_file_only(shipped):
    prompts = plan(shipped("wan-i2v"), prompt_mode="per-image manual", tries=2,
                   per_file_params={"/data/in/cat.png": {"positive_prompt": "The cat yawns."}})
    assert [text(p) for p in prompts] == ["The cat yawns.", "The cat yawns.", "shared", "shared"]
    assert [p.params["positive_prompt"] for p in prompts] == ["The cat yawns."] * 2 + ["shared"] * 2


def test_per_file_stage_prompts_map_to_their_stage(shipped):
    wf = shipped("wan-context-3stage-split-prompts")
    shared = {f"positive_prompt_stage{k}": f"shared {k}" for k in (1, 2, 3)}
    prompts = plan(wf, params=shared, prompt_mode="per-image manual",
                   per_file_params={"dog.png": {"positive_prompt_stage2": "dog 2", "positive_prompt_stage3": "dog 3"}})
    cat, dog = prompts
    assert [text(cat, n) for n in ("9", "30", "40")] == ["shared 1", "shared 2", "shared 3"]
    assert [text(dog, n) for n in ("9", "30", "40")] == ["shared 1", "dog 2", "dog 3"]


def test_dynamic_stages_plan_with_per_file_prompts(shipped):
    wf = shipped("wan-i2v-nstage")
    per_file = {f: {f"positive_prompt_stage{k}": f"{Path(f).stem} {k}" for k in (1, 2)} for f in FILES}
    prompts = plan(wf, params={"stages": 2}, prompt_mode="per-image auto", per_file_params=per_file, seed=10)
    assert [text(prompts[1], n) for n in ("9", "200")] == ["dog 1", "dog 2"]
    assert prompts[1].graph["202"]["inputs"]["noise_seed"] == 11


def test_workflow_without_input_plans_one_prompt_per_try(shipped):
    prompts = plan(shipped("t2i"), files=[], input_names=None, tries=2, seed=1)
    assert [(p.input_file, p.seed) for p in prompts] == [(None, 1), (None, 2)]


def test_workflow_without_seed_plans_seedless_prompts(shipped):
    prompts = plan(shipped("image-upscale"), params={}, input_names=None, files=["a.png", "b.png"])
    assert [(p.seed, p.graph["1"]["inputs"]["image"]) for p in prompts] == [(None, "a.png"), (None, "b.png")]


@pytest.mark.parametrize("kw, param, message", [
    (dict(prompt_mode="auto"), "prompt_mode", "'auto' is not one of manual, per-image manual, per-image auto"),
    (dict(tries=0), "tries", "0 is not allowed: give a whole number from 1 to 100"),
    (dict(tries=101), "tries", "101 is not allowed"),
    (dict(tries=True), "tries", "True is not allowed"),
    (dict(per_file_params={"/data/in/cow.png": {"positive_prompt": "x"}}, prompt_mode="per-image manual"),
     "per_file_params", "names '/data/in/cow.png', which is not in this batch of 2 file(s)"),
    (dict(per_file_params={"cat.png": {"steps": 8}}, prompt_mode="per-image manual"),
     "steps", "cannot be set per file (per-file parameters: positive_prompt)"),
    (dict(per_file_params={"cat.png": {"positive_prompt": 3}}, prompt_mode="per-image manual"),
     "positive_prompt", "expects text, got 3"),
    (dict(per_file_params={"cat.png": "x"}, prompt_mode="per-image manual"), "per_file_params", "expects an object"),
    (dict(per_file_params={"cat.png": {"positive_prompt": "x"}}), "per_file_params",
     "prompt_mode manual uses the same prompt for every file"),
    (dict(params={}), "positive_prompt", "is empty; prompt_mode manual uses it for every input"),
    (dict(params={}, prompt_mode="per-image manual", per_file_params={"cat.png": {"positive_prompt": "x"}}),
     "positive_prompt", "no prompt for 1 file(s): /data/in/dog.png; give each its own prompt"),
    (dict(prompt_mode="per-image auto", per_file_params={"cat.png": {"positive_prompt": "x"}}),
     "positive_prompt", "no prompt for 1 file(s): /data/in/dog.png; run auto-prompt for them first"),
    (dict(seed=9007199254740991, tries=2), "seed", "try 2: 9007199254740992 is above the maximum"),
    (dict(params={"positive_prompt": "p", "stepz": 1}), "stepz", "unknown parameter"),
])
def test_plan_errors(shipped, kw, param, message):
    with pytest.raises(ParamError) as err:
        plan(shipped("wan-i2v"), **kw)
    assert err.value.param == param and message in err.value.message


def test_per_file_errors_name_the_file(shipped):
    with pytest.raises(ParamError) as err:
        plan(shipped("wan-i2v"), prompt_mode="per-image manual", per_file_params={"dog.png": {"positive_prompt": 1}})
    assert err.value.file == "/data/in/dog.png" and str(err.value).startswith("/data/in/dog.png: positive_prompt: ")


def test_ambiguous_base_name_and_duplicate_keys(shipped):
    files = ["/a/x.png", "/b/x.png"]
    with pytest.raises(ParamError, match="matches several files"):
        plan(shipped("wan-i2v"), files=files, input_names=None, prompt_mode="per-image manual",
             per_file_params={"x.png": {"positive_prompt": "p"}})
    with pytest.raises(ParamError, match="given twice"):
        plan(shipped("wan-i2v"), prompt_mode="per-image manual",
             per_file_params={"cat.png": {"positive_prompt": "a"}, "/data/in/cat.png": {"positive_prompt": "b"}})


def test_prompt_mode_rules_for_workflows_without_prompt_or_input(shipped):
    with pytest.raises(ParamError, match="has no prompt; use manual"):
        plan(shipped("image-upscale"), params={}, prompt_mode="per-image manual", input_names=None)
    with pytest.raises(ParamError, match="needs input files; workflow t2i takes none"):
        plan(shipped("t2i"), files=[], input_names=None, prompt_mode="per-image manual")
    with pytest.raises(ParamError, match="has no seed, so every try would render the same graph"):
        plan(shipped("image-upscale"), params={}, tries=2, input_names=None)


@pytest.mark.parametrize("name, kw, message", [
    ("t2i", dict(input_names=None), "workflow t2i takes no input files, got 2"),
    ("wan-i2v", dict(files=[]), "workflow wan-i2v needs at least one input image"),
    ("wan-i2v", dict(files=[FILES[0], FILES[0]]), "/data/in/cat.png is listed twice"),
    ("wan-i2v", dict(input_names={FILES[0]: "a.png"}), "/data/in/dog.png: no staged name was given"),
])
def test_input_errors(shipped, name, kw, message):
    with pytest.raises(InputError, match=message):
        plan(shipped(name), **kw)


def test_unstaged_absolute_path_never_reaches_the_graph(shipped):
    with pytest.raises(ParamError) as err:
        plan(shipped("wan-i2v"), input_names=None)
    assert err.value.param == "input_file" and err.value.file == FILES[0]


def test_single_input_workflows_take_exactly_one_file(load_def, mini):
    defn, template = mini
    defn["input"]["multiple"] = False
    wf = load_def(defn, template)
    with pytest.raises(InputError, match="takes exactly one input image, got 2"):
        plan(wf, params={}, input_names=None, files=["a.png", "b.png"])
    assert len(plan(wf, params={}, input_names=None, files=["a.png"])) == 1


def touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")


def test_discover_inputs_is_filtered_and_naturally_sorted(shipped, tmp_path):
    touch(tmp_path, "img10.png", "img2.PNG", "Img1.jpg", "notes.txt", ".hidden.png", "sub/deep.png",
          "_processed/done.png")
    found = discover_inputs(shipped("wan-i2v"), tmp_path)
    assert [p.name for p in found] == ["Img1.jpg", "img2.PNG", "img10.png"]
    assert discover_inputs(shipped("wan-i2v"), tmp_path) == found


def test_discover_inputs_recursive_glob_skips_processed(load_def, mini, tmp_path):
    defn, template = mini
    defn["input"]["glob"] = "**/*"
    wf = load_def(defn, template)
    folder = tmp_path / "in"
    touch(folder, "b/2.png", "a/10.png", "a/9.png", "_processed/old.png", "a/_processed/old.png")
    assert [p.relative_to(folder).as_posix() for p in discover_inputs(wf, folder)] == ["a/9.png", "a/10.png", "b/2.png"]


def test_discover_inputs_errors(shipped, tmp_path):
    wf = shipped("wan-i2v")
    with pytest.raises(InputError, match="input folder not found"):
        discover_inputs(wf, tmp_path / "nope")
    touch(tmp_path, "file.png")
    with pytest.raises(InputError, match="not a folder"):
        discover_inputs(wf, tmp_path / "file.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty is empty matching"):
        discover_inputs(wf, tmp_path / "empty")
    touch(tmp_path / "docs", "a.txt", "b.pdf")
    with pytest.raises(InputError) as err:
        discover_inputs(wf, tmp_path / "docs")
    assert "has 2 file(s) but none matching '*' with extension .png, .jpg, .jpeg, .webp, .bmp" in str(err.value)
    with pytest.raises(InputError, match="workflow t2i takes no input files"):
        discover_inputs(shipped("t2i"), tmp_path)
