// Uploads one file to POST /vq/v1/uploads with progress. fetch() cannot report upload
// progress, so this uses XMLHttpRequest; `createXhr` is injectable for tests.

import { ApiError } from "../api-client.js";

/**
 * @param {string} url  the upload route's URL (under ComfyUI's /api prefix)
 * @param {File|Blob} file
 * @param {(loaded: number, total: number) => void} onProgress
 * @returns {Promise<object>} the UploadResult ({name, path, size, ...})
 */
export function uploadFile(url, file, onProgress, createXhr = () => new XMLHttpRequest()) {
  return new Promise((resolve, reject) => {
    const xhr = createXhr();
    xhr.open("POST", url);
    xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, "network", "ComfyUI is not reachable"));
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && data) resolve(data);
      else if (data?.error?.message) reject(new ApiError(xhr.status, data.error.code, data.error.message, data.error.details));
      else reject(new ApiError(xhr.status, "http", `HTTP ${xhr.status}`));
    };
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
