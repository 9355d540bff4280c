// index.ts - the public API of @framewire/react.

export { CameraClassifier, type CameraClassifierProps } from './CameraClassifier';
export { TopKOverlay, type TopKOverlayProps } from './TopKOverlay';
export { StatsPanel, connectionText, type StatsPanelProps } from './StatsPanel';
export { useFramewire, useCaptureLoop, defaultUrl, type UseFramewireResult, type CaptureLoopSettings } from './useFramewire';
export {
  FramewireClient,
  type FramewireOptions,
  type FramewireSnapshot,
  type FrameTicket,
  type ConnectionState,
  type ResultView,
  type Answer,
  type WebSocketLike,
  type WebSocketFactory,
} from './client';
export { CaptureLoop, type FrameEncoder, type CaptureLoopOptions } from './loop';
export { RateController, type AdaptState, type AdaptLimits, type AdaptSettings, type WindowSample } from './adapt';
export { splitLatency, type LatencySplit } from './latency';
export { ClockSync, clockSample } from './clock';
export { backoffDelay, type BackoffOptions } from './backoff';
export { classifyImage, RestError, type RestResult } from './rest';
export { listCameras, openCamera, videoEncoder, videoReady, RESOLUTIONS, type Resolution } from './capture';
export * from './protocol';
