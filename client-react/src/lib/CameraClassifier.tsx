// CameraClassifier.tsx - the drop-in component: pick a camera or a video file, choose resolution,
// JPEG quality and frame rate; frames stream to framewire through useFramewire and the adaptive
// capture loop; the top-k labels are drawn over the video and the numbers shown beside it.

import { useCallback, useEffect, useRef, useState } from 'react';
import { listCameras, openCamera, RESOLUTIONS, stopStream, videoEncoder, videoReady, type Resolution } from './capture';
import type { ResultView } from './client';
import type { Policy } from './protocol';
import { StatsPanel } from './StatsPanel';
import { TopKOverlay } from './TopKOverlay';
import { useCaptureLoop, useFramewire } from './useFramewire';

export interface CameraClassifierProps {
  /** framewire's WebSocket URL (default: the page's own host) */
  url?: string;
  /** bearer token when the server runs with --token */
  token?: string;
  /** classes shown per result (default 3) */
  topK?: number;
  /** camera resolution asked for, also the largest size sent for video files (default 640x480) */
  resolution?: Resolution;
  /** JPEG quality 0..1 (default 0.8) */
  quality?: number;
  /** largest frame rate (default 30) */
  maxFps?: number;
  /** lower frame rate, quality and resolution when the server falls behind (default true) */
  adapt?: boolean;
  /** capture → result latency above which the client adapts, ms (default 250) */
  targetLatencyMs?: number;
  policy?: Policy;
  maxAgeMs?: number;
  /** the client's cap on unanswered frames (the server's max_inflight caps it too; default 2) */
  maxInflight?: number;
  /** show the numbers panel (default true) */
  showPanel?: boolean;
  /** called for every result */
  onResult?: (r: ResultView) => void;
  className?: string;
}

type SourceKind = 'camera' | 'file';
const FPS_CHOICES = [1, 2, 5, 10, 15, 24, 30, 60];

export function CameraClassifier(props: CameraClassifierProps) {
  const {
    url,
    token,
    topK = 3,
    adapt = true,
    targetLatencyMs,
    policy,
    maxAgeMs,
    maxInflight,
    showPanel = true,
    onResult,
    className,
  } = props;
  const fw = useFramewire({ url, token, topK, policy, maxAgeMs, maxInflight });
  const videoRef = useRef<HTMLVideoElement | null>(null);
  const [kind, setKind] = useState<SourceKind>('camera');
  const [cameras, setCameras] = useState<MediaDeviceInfo[]>([]);
  const [cameraId, setCameraId] = useState<string>('');
  const [resolution, setResolution] = useState<Resolution>(props.resolution ?? RESOLUTIONS[1]);
  const [quality, setQuality] = useState(props.quality ?? 0.8);
  const [maxFps, setMaxFps] = useState(props.maxFps ?? 30);
  const [file, setFile] = useState<File | null>(null);
  const [sourceError, setSourceError] = useState<string | null>(null);
  const [sourceLabel, setSourceLabel] = useState('');
  // Results of frames taken before the source changed are not shown for the new source.
  const [firstFrame, setFirstFrame] = useState(0);

  // Open the chosen source on the one <video> element: the pipeline after it is the same.
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    let stream: MediaStream | null = null;
    let objectUrl: string | null = null;
    let cancelled = false;
    setSourceError(null);
    setFirstFrame(fw.client.nextFrameId);
    if (kind === 'camera') {
      openCamera(cameraId || undefined, resolution).then(
        async (s) => {
          if (cancelled) return stopStream(s);
          stream = s;
          video.removeAttribute('src');
          video.loop = false;
          video.srcObject = s;
          const track = s.getVideoTracks()[0];
          setSourceLabel(`camera: ${track?.label || 'default'}`);
          await video.play().catch(() => undefined);
          setCameras(await listCameras()); // labels are known once a camera was allowed
        },
        (e: Error) => !cancelled && setSourceError(e.message),
      );
    } else if (file) {
      objectUrl = URL.createObjectURL(file);
      video.srcObject = null;
      video.loop = true;
      video.src = objectUrl;
      setSourceLabel(`file: ${file.name}`);
      video.play().catch((e: Error) => !cancelled && setSourceError(`cannot play ${file.name}: ${e.message}`));
    } else {
      video.srcObject = null;
      video.removeAttribute('src');
      setSourceLabel('');
    }
    const onVideoError = () => {
      const err = video.error;
      if (err) setSourceError(`cannot play this video (${err.message || `media error ${err.code}`})`);
    };
    video.addEventListener('error', onVideoError);
    return () => {
      cancelled = true;
      video.removeEventListener('error', onVideoError);
      stopStream(stream);
      video.srcObject = null;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [kind, cameraId, resolution, file, fw.client]);

  const sourceReady = useCallback(() => videoReady(videoRef.current) && !videoRef.current!.paused, []);
  const encodeRef = useRef(videoEncoder(() => videoRef.current));
  const encode = useCallback(
    (scale: number, q: number) => {
      // Never send more than the chosen resolution (a 4K file is scaled down like a camera).
      const v = videoRef.current;
      const fit = v && v.videoWidth ? Math.min(1, resolution.width / v.videoWidth, resolution.height / v.videoHeight) : 1;
      return encodeRef.current(scale * fit, q);
    },
    [resolution],
  );
  const adaptState = useCaptureLoop(fw.client, sourceReady, encode, { maxFps, quality, adapt, targetLatencyMs }, true);

  useEffect(() => (onResult ? fw.client.onAnswer((a) => a.kind === 'result' && onResult(a.view)) : undefined), [fw.client, onResult]);

  const shown = fw.result && fw.result.frameId >= firstFrame ? fw.result : null;
  const placeholder =
    sourceError ??
    (fw.state !== 'ready' ? 'connecting to framewire…' : kind === 'file' && !file ? 'choose a video file' : 'waiting for results…');

  return (
    <div className={`fw-classifier ${className ?? ''}`} data-testid="fw-classifier">
      <div className="fw-controls">
        <label>
          Source{' '}
          <select data-testid="fw-source-kind" value={kind} onChange={(e) => setKind(e.target.value as SourceKind)}>
            <option value="camera">camera</option>
            <option value="file">video file</option>
          </select>
        </label>
        {kind === 'camera' ? (
          <label>
            Camera{' '}
            <select data-testid="fw-camera" value={cameraId} onChange={(e) => setCameraId(e.target.value)}>
              <option value="">default</option>
              {cameras.map((c, i) => (
                <option key={c.deviceId || i} value={c.deviceId}>
                  {c.label || `camera ${i + 1}`}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            Video{' '}
            <input
              data-testid="fw-video-file"
              type="file"
              accept="video/*"
              onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            />
          </label>
        )}
        <label>
          Resolution{' '}
          <select
            data-testid="fw-resolution"
            value={`${resolution.width}x${resolution.height}`}
            onChange={(e) => {
              const [w, h] = e.target.value.split('x').map(Number);
              setResolution({ width: w, height: h });
            }}
          >
            {RESOLUTIONS.map((r) => (
              <option key={r.width} value={`${r.width}x${r.height}`}>
                {r.width}×{r.height}
              </option>
            ))}
          </select>
        </label>
        <label>
          JPEG quality{' '}
          <input
            data-testid="fw-quality"
            type="range"
            min={0.3}
            max={0.95}
            step={0.05}
            value={quality}
            onChange={(e) => setQuality(Number(e.target.value))}
          />{' '}
          {quality.toFixed(2)}
        </label>
        <label>
          Max fps{' '}
          <select data-testid="fw-max-fps" value={maxFps} onChange={(e) => setMaxFps(Number(e.target.value))}>
            {FPS_CHOICES.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="fw-main">
        <div className="fw-stage">
          <video ref={videoRef} data-testid="fw-video" autoPlay muted playsInline />
          <TopKOverlay result={shown} fps={fw.measures.resultFps} placeholder={placeholder} />
          <p className="fw-source" data-testid="fw-source">
            {sourceLabel}
            {adaptState.adapted && (
              <span className="fw-badge fw-badge-warn">
                {' '}
                adapted: {adaptState.fps} fps, q {adaptState.quality.toFixed(2)}, {Math.round(adaptState.scale * 100)}%
              </span>
            )}
          </p>
        </div>
        {showPanel && <StatsPanel fw={fw} adapt={adaptState} />}
      </div>
    </div>
  );
}
