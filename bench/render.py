"""Time to prepare a large submit: plan 1,000 files × 2 tries (server side, no preflight).

usage: python bench/render.py [--files N] [--tries N]

Loads the shipped definitions (without node schemas: loading is not part of a submit),
then times plan_prompts, which resolves the parameters, builds the graph once and derives
every prompt's graph from it. Target: under 0.5 s for 1,000 × 2.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from vq_extension.workflows import Catalog, plan_prompts

DEFS = Path(__file__).resolve().parents[1] / "workflow_defs_v2"
TARGET_S = 0.5

CASES = {
    "wan-i2v (one prompt for all)": ("wan-i2v", "manual", lambda f: {}),
    "wan-i2v (per-image prompts)": ("wan-i2v", "per-image manual", lambda f: {"positive_prompt": f"motion for {f}"}),
    "wan-context-3stage (per-image)": ("wan-context-3stage-split-prompts", "per-image manual",
                                       lambda f: {f"positive_prompt_stage{k}": f"{f} {k}" for k in (1, 2, 3)}),
    "wan-i2v-nstage, 8 stages (per-image)": ("wan-i2v-nstage", "per-image manual",
                                             lambda f: {f"positive_prompt_stage{k}": f"{f} {k}" for k in range(1, 9)}),
}
SHARED = {"positive_prompt": "She turns and smiles.", "stages": 8,
          **{f"positive_prompt_stage{k}": f"beat {k}" for k in range(1, 9)},
          "extra_loras": [{"high": "motion_high.safetensors", "low": "motion_low.safetensors", "strength": 0.8}]}


def run(catalog: Catalog, workflow: str, mode: str, per_file, n_files: int, tries: int) -> float:
    wf = catalog.get(workflow)
    files = [f"/data/batch/img_{i:04d}.png" for i in range(n_files)]
    names = {f: f"vq/{i:02x}/img_{i:04d}.png" for i, f in enumerate(files)}
    params = {k: v for k, v in SHARED.items() if wf.lookup(k) is not None}
    start = time.perf_counter()
    prompts = plan_prompts(wf, files=files, params=params, per_file_params={f: per_file(f) for f in files},
                           prompt_mode=mode, tries=tries, seed=None, randomize_seed=True,
                           rng=random.Random(0), input_names=names)
    elapsed = time.perf_counter() - start
    assert len(prompts) == n_files * tries
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--tries", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    catalog = Catalog([DEFS])
    assert catalog.reload() == []
    print(f"plan_prompts: {args.files} files x {args.tries} tries, best and median of {args.repeat}")
    for label, (workflow, mode, per_file) in CASES.items():
        times = [run(catalog, workflow, mode, per_file, args.files, args.tries) for _ in range(args.repeat)]
        best, median = min(times), statistics.median(times)
        verdict = "ok" if median < TARGET_S else f"OVER the {TARGET_S} s target"
        print(f"  {label:40s} best {best * 1000:7.1f} ms  median {median * 1000:7.1f} ms  {verdict}")


if __name__ == "__main__":
    main()
