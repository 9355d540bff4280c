// capture.ts - browser-side frame sources: camera listing and opening (getUserMedia), and the
// JPEG encoder that draws a <video> (camera or file, the same element) onto a canvas at a scale
// and encodes it with the browser's JPEG encoder.

import type { FrameEncoder } from './loop';

export interface Resolution {
  width: number;
  height: number;
}

export const RESOLUTIONS: Resolution[] = [
  { width: 320, height: 240 },
  { width: 640, height: 480 },
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
];

/** The video element has a picture to draw. */
export function videoReady(v: HTMLVideoElement | null): boolean {
  return !!v && v.readyState >= 2 /* HAVE_CURRENT_DATA */ && v.videoWidth > 0 && v.videoHeight > 0;
}

/** An encoder bound to one video element (a reusable canvas inside). */
export function videoEncoder(getVideo: () => HTMLVideoElement | null): FrameEncoder {
  const canvas = document.createElement('canvas');
  return (scale, quality) => {
    const v = getVideo();
    if (!videoReady(v)) return Promise.resolve(null);
    const w = Math.max(16, Math.round(v!.videoWidth * scale));
    const h = Math.max(16, Math.round(v!.videoHeight * scale));
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    const ctx = canvas.getContext('2d');
    if (!ctx) return Promise.resolve(null);
    ctx.drawImage(v!, 0, 0, w, h);
    return new Promise((resolve) => {
      canvas.toBlob((blob) => (blob ? blob.arrayBuffer().then(resolve, () => resolve(null)) : resolve(null)), 'image/jpeg', quality);
    });
  };
}

/** The cameras the browser offers (labels are empty until the user has allowed one). */
export async function listCameras(): Promise<MediaDeviceInfo[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const all = await navigator.mediaDevices.enumerateDevices();
  return all.filter((d) => d.kind === 'videoinput');
}

/** Opens a camera at about the given resolution. Throws an Error with a readable message. */
export async function openCamera(deviceId: string | undefined, res: Resolution): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia)
    throw new Error('this browser offers no camera API here (cameras need https or localhost)');
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: {
        deviceId: deviceId ? { exact: deviceId } : undefined,
        width: { ideal: res.width },
        height: { ideal: res.height },
      },
      audio: false,
    });
  } catch (e) {
    const err = e as DOMException;
    const why =
      err.name === 'NotAllowedError'
        ? 'camera permission was refused'
        : err.name === 'NotFoundError'
          ? 'no camera found'
          : err.name === 'NotReadableError'
            ? 'the camera is in use by another program'
            : `${err.name}: ${err.message}`;
    throw new Error(why);
  }
}

export function stopStream(s: MediaStream | null): void {
  s?.getTracks().forEach((t) => t.stop());
}
