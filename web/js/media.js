// The media extension table, the sidebar's copy of vq_extension/media.py
// (tests/unit/test_shared_tables.py keeps the two equal). No side effects.

export const MEDIA_EXTENSIONS = Object.freeze({
  image: Object.freeze([".bmp", ".gif", ".jfif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"]),
  video: Object.freeze([".3gp", ".avi", ".m4v", ".mkv", ".mov", ".mp4", ".webm"]),
  audio: Object.freeze([".aac", ".flac", ".m4a", ".mp3", ".ogg", ".opus", ".wav"]),
  "3d": Object.freeze([".fbx", ".glb", ".gltf", ".obj", ".ply", ".stl"]),
});

/** image, video, audio or 3d by the file name's extension; null when unknown. */
export function mediaKindOfName(filename) {
  const name = String(filename || "").toLowerCase();
  const dot = name.lastIndexOf(".");
  if (dot < 0) return null;
  const ext = name.slice(dot);
  for (const [kind, extensions] of Object.entries(MEDIA_EXTENSIONS)) {
    if (extensions.includes(ext)) return kind;
  }
  return null;
}
