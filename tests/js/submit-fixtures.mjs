// Workflow descriptions for the Submit view's unit tests, shaped like GET /vq/v1/workflows/{name}.

const ui = (patch = {}) => ({ widget: null, multiline: false, group: null, order: null, placeholder: null, help: null, advanced: false, ...patch });
const param = (name, type, patch = {}) => ({ name, label: name, type, default: null, min: null, max: null, step: null,
  options: null, options_live: false, options_source: null, derived: null, per_stage: false, per_file: false,
  removable: false, ...patch, ui: ui(patch.ui) });

export function videoDesc() {
  return {
    name: "vid", mode: "video_gen", input: { kind: "image", multiple: true, extensions: [".png"] },
    resolution: { default: "480p", flip: true, width_param: "width", height_param: "height",
      presets: [{ name: "480p", label: "480p", width: 832, height: 480 }] },
    stages: null,
    params: [
      param("positive_prompt", "text", { label: "Prompt", per_file: true, default: "", ui: { group: "Prompt", multiline: true } }),
      param("negative_prompt", "text", { default: "bad", ui: { group: "Prompt", advanced: true } }),
      param("resolution", "select", { default: "480p", options: [{ value: "480p", label: "480p" }, { value: "custom", label: "Custom" }], ui: { group: "Video" } }),
      param("flip_orientation", "bool", { default: false, ui: { group: "Video" } }),
      param("width", "int", { default: 832, min: 128, max: 2048, step: 16, ui: { group: "Video", advanced: true } }),
      param("height", "int", { default: 480, min: 128, max: 2048, step: 16, ui: { group: "Video", advanced: true } }),
      param("length", "int", { default: 81, min: 5, max: 1001, step: 4, ui: { group: "Video" } }),
      param("cfg", "float", { default: 1, min: 0, max: 30, step: 0.1, ui: { group: "Sampling" } }),
      param("seed", "int", { default: 0, min: 0, max: 9007199254740991, ui: { group: "Sampling", widget: "seed" } }),
      param("sampler_name", "select", { default: "euler", options: [{ value: "euler" }, { value: "dpm" }], options_live: true, options_source: "samplers" }),
      param("extra_loras", "lora", { default: [], min: -10, max: 10, step: 0.05, chain: [{ name: "high", label: "high noise" }, { name: "low", label: "low noise" }], max_items: 3 }),
    ],
  };
}

export function nstageDesc() {
  return {
    name: "nstage", mode: "video_gen", input: { kind: "image", multiple: true, extensions: [".png"] },
    resolution: null, stages: { count_param: "stages", min: 1, max: 8, default: 3 },
    params: [
      param("stages", "int", { default: 3, min: 1, max: 8, ui: { group: "Prompt", order: -1 } }),
      param("positive_prompt_stage{k}", "text", { label: "Clip {k}", per_stage: true, per_file: true, default: "", ui: { group: "Prompt", multiline: true } }),
      param("seed", "int", { default: 0, min: 0, max: 100, ui: { widget: "seed" } }),
      param("seed_stage{k}", "int", { per_stage: true, derived: "seed + k - 1" }),
    ],
  };
}

export function t2iDesc() {
  return {
    name: "t2i", mode: "image_gen", input: { kind: "none", multiple: true, extensions: [] }, resolution: null, stages: null,
    params: [param("positive_prompt", "text", { per_file: true, default: "" }), param("seed", "int", { default: 0, min: 0, ui: { widget: "seed" } })],
  };
}

export function upscaleDesc(mode = "image_upscale", kind = "image") {
  return {
    name: `up-${kind}`, mode, input: { kind, multiple: true, extensions: [".png"] }, resolution: null, stages: null,
    params: [param("scale_by", "float", { default: 2, min: 0.1, max: 8 })],
  };
}

export function memoryStorage(initial = {}) {
  const data = new Map(Object.entries(initial));
  return {
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => data.set(k, String(v)),
    removeItem: (k) => data.delete(k),
    data,
  };
}
