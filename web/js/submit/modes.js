// The Submit view's modes (tabs at its top). Each mode lists the workflows of one category
// (a definition's `mode`) whose input fits it, read from the definitions' own metadata:
// `input.kind` (image, video, none) and `input.multiple` (false: one file per job).

export const MODES = Object.freeze([
  { id: "batch_video", label: "Batch video", icon: "pi pi-images", category: "video_gen", input: "many",
    help: "A folder or dropped images, one video each" },
  { id: "single_video", label: "Image → video", icon: "pi pi-image", category: "video_gen", input: "one",
    help: "One image, one video" },
  { id: "image_gen", label: "Image generation", icon: "pi pi-palette", category: "image_gen", input: "variant",
    help: "Text to image, or image to image" },
  { id: "image_upscale", label: "Upscale images", icon: "pi pi-expand", category: "image_upscale", input: "many",
    help: "A folder or dropped images" },
  { id: "video_upscale", label: "Upscale video", icon: "pi pi-video", category: "video_upscale", input: "many",
    help: "A folder or dropped videos" },
]);

export const MODE_IDS = MODES.map((m) => m.id);

/** Image generation's switch: text to image takes no input, image to image takes images. */
export const IMAGE_GEN_VARIANTS = Object.freeze([
  { id: "t2i", label: "Text → image", inputKind: "none" },
  { id: "i2i", label: "Image → image", inputKind: "image" },
]);

export function modeById(id) {
  return MODES.find((m) => m.id === id) || MODES[0];
}

/** Candidates of a mode before their descriptions are known: the category's summaries. */
export function categoryWorkflows(summaries, modeId) {
  const mode = modeById(modeId);
  return (summaries || []).filter((w) => w.mode === mode.category);
}

/** Does a described workflow fit the mode (and the image-generation variant)? */
export function fitsMode(desc, modeId, variant = "t2i") {
  const mode = modeById(modeId);
  if (!desc || desc.mode !== mode.category) return false;
  const kind = desc.input?.kind;
  if (mode.input === "variant") {
    const want = IMAGE_GEN_VARIANTS.find((v) => v.id === variant) || IMAGE_GEN_VARIANTS[0];
    return want.inputKind === "none" ? kind === "none" : kind !== "none";
  }
  if (kind === "none") return false;
  if (mode.input === "many") return desc.input.multiple !== false;
  return kind === "image"; // one image -> video
}

/** How the active mode takes its input: "none", "one" (exactly one file) or "many". */
export function inputNeed(modeId, desc) {
  const mode = modeById(modeId);
  if (!desc || desc.input?.kind === "none") return "none";
  if (mode.input === "one" || desc.input?.multiple === false) return "one";
  return "many";
}
