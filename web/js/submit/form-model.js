// The parameter form as data, built from a workflow description (GET /vq/v1/workflows/{name})
// and nothing else: which fields show, their coercion, clamping and validation, and which
// values a workflow starts with (saved > current form > definition default). Pure; no DOM.

export const SEED_WIDGET = "seed";
/** Synthetic entries the server adds for a definition's `resolution` (see docs/api.md). */
export const RESOLUTION = "resolution";
export const FLIP = "flip_orientation";
export const CUSTOM = "custom";
const STAGE_TOKEN = "{k}";

export const stageName = (name, k) => name.replace(STAGE_TOKEN, String(k));

/** The seed parameter (ui.widget "seed"): shown with the run options, not in the form. */
export function seedParam(desc) {
  return desc?.params?.find((p) => p.ui?.widget === SEED_WIDGET && !p.per_stage && !p.derived) || null;
}

/** Stages of a dynamic N-stage workflow (null for others), clamped to its range. */
export function stageCount(desc, values) {
  const s = desc?.stages;
  if (!s) return null;
  const { value } = coerceValue({ type: "int", min: s.min, max: s.max }, values?.[s.count_param] ?? s.default);
  return value ?? s.default;
}

/** The form's fields in order: derived values, the seed and the stage count are left out;
 *  per-stage parameters appear once per stage ("Clip 1" … "Clip N"). */
export function formFields(desc, values = {}) {
  if (!desc?.params) return [];
  const n = stageCount(desc, values);
  const seed = seedParam(desc);
  const fields = [];
  for (const p of desc.params) {
    if (p.derived || p === seed || p.name === desc.stages?.count_param) continue;
    if (!p.per_stage) {
      fields.push(p);
      continue;
    }
    for (let k = 1; k <= (n || 1); k++) {
      fields.push({ ...p, name: stageName(p.name, k), label: stageName(p.label, k), stage: k, template: p.name });
    }
  }
  return fields;
}

/** Fields by group, in order of first appearance; advanced ones apart (collapsed). */
export function formGroups(fields) {
  const groups = new Map();
  for (const f of fields) {
    const name = f.ui?.group || "Settings";
    if (!groups.has(name)) groups.set(name, { name, basic: [], advanced: [] });
    groups.get(name)[f.ui?.advanced ? "advanced" : "basic"].push(f);
  }
  return [...groups.values()];
}

/** The prompt parameters (per_file) expanded for the current stage count: per-image columns. */
export function promptFields(desc, values = {}) {
  return formFields(desc, values).filter((f) => f.per_file);
}

// --- coercion ----------------------------------------------------------------------------

const isBlank = (v) => v == null || (typeof v === "string" && v.trim() === "");

function clamp(n, min, max) {
  if (min != null && n < min) return min;
  if (max != null && n > max) return max;
  return n;
}

function rangeText(f) {
  if (f.min != null && f.max != null) return `from ${f.min} to ${f.max}`;
  if (f.min != null) return `of at least ${f.min}`;
  return `of at most ${f.max}`;
}

/**
 * A raw value (from an input, a saved form or a preset) as the field's type.
 * @returns {{value: any, error: string|null, clamped: boolean}} out-of-range numbers are
 *   clamped (and snapped to `step` from `min` for whole numbers), not refused.
 */
export function coerceValue(f, raw) {
  switch (f.type) {
    case "int":
    case "float": {
      if (isBlank(raw)) return { value: null, error: "Enter a number", clamped: false };
      const n = typeof raw === "number" ? raw : Number(String(raw).trim());
      if (!Number.isFinite(n)) return { value: null, error: "Enter a number", clamped: false };
      if (f.type === "int" && !Number.isInteger(n)) return { value: null, error: "Enter a whole number", clamped: false };
      let v = clamp(n, f.min, f.max);
      if (f.type === "int" && f.step > 1) {
        const base = f.min ?? 0;
        v = clamp(base + Math.round((v - base) / f.step) * f.step, f.min, f.max);
      }
      return { value: v, error: null, clamped: v !== n };
    }
    case "bool":
      if (typeof raw === "boolean") return { value: raw, error: null, clamped: false };
      if (raw === "true" || raw === "false") return { value: raw === "true", error: null, clamped: false };
      return { value: null, error: "Expected on or off", clamped: false };
    case "select": {
      const v = raw == null ? "" : raw;
      const closed = f.options?.length && !f.options_live;
      if (closed && !f.options.some((o) => String(o.value) === String(v))) {
        return { value: null, error: `Choose one of: ${f.options.map((o) => o.label || o.value).join(", ")}`, clamped: false };
      }
      const match = f.options?.find((o) => String(o.value) === String(v));
      return { value: match ? match.value : String(v), error: null, clamped: false };
    }
    case "lora":
      if (f.chain) return coerceChain(f, raw);
      return { value: raw == null ? "" : String(raw), error: null, clamped: false };
    default:
      if (raw != null && typeof raw === "object") return { value: null, error: "Expected text", clamped: false };
      return { value: raw == null ? "" : String(raw), error: null, clamped: false };
  }
}

/** A LoRA chain: rows of {<chain name>: file, strength}; rows beyond max_items are dropped. */
function coerceChain(f, raw) {
  if (raw == null) return { value: [], error: null, clamped: false };
  if (!Array.isArray(raw)) return { value: null, error: "Expected a list of LoRAs", clamped: false };
  let clamped = false;
  const rows = raw.slice(0, f.max_items || 8).map((row) => {
    const out = {};
    for (const c of f.chain) out[c.name] = typeof row?.[c.name] === "string" ? row[c.name] : "";
    const s = coerceValue({ type: "float", min: f.min, max: f.max }, row?.strength ?? 1);
    clamped ||= s.clamped;
    out.strength = s.value ?? 1;
    return out;
  });
  return { value: rows, error: null, clamped: clamped || raw.length > rows.length };
}

export function emptyChainRow(f) {
  const row = {};
  for (const c of f.chain) row[c.name] = "";
  row.strength = 1;
  return row;
}

// --- starting values -------------------------------------------------------------------

/**
 * The values a workflow's form starts with. Each field takes the first of: its `saved`
 * value (this workflow, persisted), the `current` form's value (switching workflows keeps
 * what matches), the definition's default, that is valid. Saved names the workflow no
 * longer has are reported in `ignored`; saved values that had to be clamped in `clamped`.
 */
export function resolveValues(desc, saved = {}, current = {}) {
  const values = {};
  const clamped = [];
  const pick = (f) => {
    for (const [source, bag] of [["saved", saved], ["current", current]]) {
      if (!bag || !(f.name in bag)) continue;
      const c = coerceValue(f, bag[f.name]);
      if (c.error) continue;
      if (c.clamped && source === "saved") clamped.push(f.name);
      return c.value;
    }
    const d = coerceValue(f, f.default);
    return d.error ? f.default : d.value;
  };
  if (desc?.stages) {
    const s = desc.stages;
    values[s.count_param] = pick({ name: s.count_param, type: "int", min: s.min, max: s.max, default: s.default });
  }
  const seed = seedParam(desc);
  if (seed) values[seed.name] = pick(seed);
  // Every stage up to the maximum keeps its prompt, so removing a clip and adding it back loses nothing.
  const all = formFields(desc, desc?.stages ? { [desc.stages.count_param]: desc.stages.max } : values);
  for (const f of all) values[f.name] = pick(f);
  const known = new Set(Object.keys(values));
  const ignored = Object.keys(saved || {}).filter((name) => !known.has(name));
  return { values, ignored, clamped };
}

/** Width × height the job will use: the preset's (flipped when asked) or the custom fields. */
export function effectiveSize(desc, values) {
  const res = desc?.resolution;
  if (!res) return null;
  const preset = res.presets.find((p) => p.name === values[RESOLUTION]);
  let w = preset ? preset.width : values[res.width_param];
  let h = preset ? preset.height : values[res.height_param];
  if (preset && values[FLIP]) [w, h] = [h, w];
  return { width: w, height: h, preset: preset ? preset.name : CUSTOM };
}

/** Parameter values to submit: what the form shows, without fields a preset decides. */
export function paramsForSubmit(desc, values) {
  const res = desc.resolution;
  const presetChosen = res && values[RESOLUTION] !== CUSTOM;
  const params = {};
  if (desc.stages) params[desc.stages.count_param] = stageCount(desc, values);
  for (const f of formFields(desc, values)) {
    if (presetChosen && (f.name === res.width_param || f.name === res.height_param)) continue;
    if (res && !presetChosen && f.name === FLIP) continue;
    let v = values[f.name];
    if (f.type === "lora" && f.chain) v = (v || []).filter((row) => f.chain.some((c) => row[c.name]?.trim()))
      .map((row) => Object.fromEntries(Object.entries(row).map(([k, x]) => [k, typeof x === "string" ? x.trim() || null : x])));
    if (v === undefined || v === null) continue;
    params[f.name] = v;
  }
  return params;
}

/** Field name -> reason, for every value the server would refuse. */
export function validateValues(desc, values) {
  const errors = {};
  for (const f of formFields(desc, values)) {
    const c = coerceValue(f, values[f.name]);
    if (c.error) errors[f.name] = c.error;
    else if (c.clamped && (f.type === "int" || f.type === "float")) errors[f.name] = `Allowed ${rangeText(f)}`;
  }
  const seed = seedParam(desc);
  if (seed) {
    const c = coerceValue(seed, values[seed.name]);
    if (c.error || c.clamped) errors[seed.name] = c.error || `Allowed ${rangeText(seed)}`;
  }
  return errors;
}
