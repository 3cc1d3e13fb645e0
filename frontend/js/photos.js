// A photo as it is sent: the chosen file itself when the server takes it, else a smaller JPEG made
// here, so that a big phone photo is shrunk instead of refused. The browser applies the photo's
// EXIF orientation when it decodes it (`imageOrientation: "from-image"`), so the smaller copy is
// upright without the EXIF tag, and its size is the one face boxes are measured in.

const JPEG_QUALITY = 0.9;
const MAX_TRIES = 8;

/** Natural (EXIF-oriented) size of a local image URL, or null if the browser can't decode it. */
export async function imageSize(url) {
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
    return { width: img.naturalWidth, height: img.naturalHeight };
  } catch {
    return null;
  }
}

/** Whether a photo of `bytes` and `size` is over the server's `limits` (unknown limits: no). */
export function overLimits(bytes, size, limits) {
  const pixels = size ? size.width * size.height : 0;
  return Boolean((limits?.maxUploadBytes && bytes > limits.maxUploadBytes)
    || (limits?.maxPixels && pixels > limits.maxPixels));
}

async function encodeJpeg(bitmap, width, height) {
  // A resize by createImageBitmap ("high": a proper downscaling filter), then a plain copy.
  const resized = await createImageBitmap(bitmap, { resizeWidth: width, resizeHeight: height, resizeQuality: "high" });
  try {
    const canvas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(width, height)
      : Object.assign(document.createElement("canvas"), { width, height });
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff"; // JPEG has no transparency: transparent PNG areas become white, not black
    context.fillRect(0, 0, width, height);
    context.drawImage(resized, 0, 0);
    if (canvas.convertToBlob) return await canvas.convertToBlob({ type: "image/jpeg", quality: JPEG_QUALITY });
    return await new Promise((resolve, reject) => canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("the browser could not make a JPEG"))),
      "image/jpeg", JPEG_QUALITY));
  } finally {
    resized.close();
  }
}

/**
 * `file` shrunk to fit `limits` ({maxUploadBytes, maxPixels}): `{file, size}` of a JPEG at most
 * `maxPixels` pixels and `maxUploadBytes` bytes, upright. Rejects when the browser cannot decode
 * or encode it, or no size down to a few pixels fits.
 */
export async function shrinkToLimits(file, limits) {
  const maxBytes = limits?.maxUploadBytes || Infinity;
  const maxPixels = limits?.maxPixels || Infinity;
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  try {
    const { width: w, height: h } = bitmap;
    let scale = Math.min(1, Math.sqrt(maxPixels / (w * h)));
    for (let attempt = 0; attempt < MAX_TRIES; attempt += 1) {
      const width = Math.max(1, Math.floor(w * scale));
      const height = Math.max(1, Math.floor(h * scale));
      const blob = await encodeJpeg(bitmap, width, height);
      if (blob.size <= maxBytes) {
        const name = `${(file.name || "photo").replace(/\.[^.]*$/, "")}.jpg`;
        return { file: new File([blob], name, { type: "image/jpeg" }), size: { width, height } };
      }
      // Bytes grow about with the pixel count: aim a little under the limit.
      scale *= Math.min(0.9, Math.sqrt(maxBytes / blob.size) * 0.95);
    }
    throw new Error(`no smaller size of this photo fits in ${maxBytes} bytes`);
  } finally {
    bitmap.close();
  }
}
