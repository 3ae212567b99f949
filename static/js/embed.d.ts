// TypeScript declarations for <emotion-detector> (static/js/embed.js). Served beside it:
//   https://HOST/static/js/embed.d.ts — copy it into your project, or reference it with
//   /// <reference path="./embed.d.ts" />

/** A face box in the analysed picture's pixels (photos larger than 2048 px are scaled to 2048 on their long side). */
export interface EmotionBox {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number | null;
}

/** One class of the model (labels and their order come from the server's metadata.json). */
export interface EmotionScore {
  label: string;
  probability: number;
}

export interface EmotionFace {
  /** Photo: 1, 2, … left to right. Camera: the face's track ID, stable while it stays in view. */
  id: number;
  box: EmotionBox;
  /** The region given to the classifier (the box grown and squared as in training). */
  crop: { x: number; y: number; width: number; height: number };
  /** Detector confidence. */
  score: number | null;
  /** This frame's own probabilities, in label order (raw, unsmoothed). */
  probabilities: EmotionScore[];
  /** The most probable class of this frame. */
  top: EmotionScore;
  /** Camera: probabilities averaged over time (EMA, time constant `smoothing`); photos: same as probabilities. */
  smoothed: EmotionScore[];
  /** The label shown: on video it changes only when another class leads by `hysteresis`. */
  emotion: EmotionScore;
}

export interface EmotionResult {
  /** 'photo' (chosen in the widget), 'webcam', or 'detect' (from detect()). */
  source?: 'photo' | 'webcam' | 'detect';
  width: number;
  height: number;
  faces: EmotionFace[];
  timings: { detectMs: number; classifyMs: number };
}

export type EmotionErrorCode =
  | 'no-server' | 'no-answer' | 'bad-input' | 'disconnected'
  | 'origin-error' | 'unsupported' | 'model-error' | 'detector-error' | 'error'
  | 'decode-error' | 'size-error' | 'timeout' | 'analysis-error'
  | 'camera-denied' | 'no-camera' | 'camera-busy' | 'camera-insecure'
  /** The camera was refused or stopped because the widget's camera button was not plainly visible. */
  | 'camera-hidden';

export interface EmotionReadyDetail { labels: string[]; backend: 'webgl' | 'wasm' | 'cpu' | string }
export interface EmotionErrorDetail { code: EmotionErrorCode; message: string }
/** e.g. 'ready', 'faces', 'no-face'; 'camera-click' after start(): the widget waits for the visitor's click. */
export interface EmotionStateDetail { state: string }
export interface FaceEnterDetail { id: number; box: EmotionBox; label: string; probability: number }
export interface FaceLeaveDetail { id: number }
export interface EmotionChangeDetail { id: number; label: string; probability: number; previous: string; box: EmotionBox }

// 'error' here is a CustomEvent with a code, not the DOM's ErrorEvent.
export interface EmotionDetectorEventMap extends Omit<HTMLElementEventMap, 'error'> {
  ready: CustomEvent<EmotionReadyDetail>;
  error: CustomEvent<EmotionErrorDetail>;
  state: CustomEvent<EmotionStateDetail>;
  result: CustomEvent<EmotionResult>;
  'face-enter': CustomEvent<FaceEnterDetail>;
  'face-leave': CustomEvent<FaceLeaveDetail>;
  'emotion-change': CustomEvent<EmotionChangeDetail>;
  /** Older names, still sent. */
  emotions: CustomEvent<EmotionResult>;
  'emotion-state': CustomEvent<EmotionStateDetail>;
  'emotion-ready': CustomEvent<EmotionReadyDetail>;
}

/** An error thrown by start() / detect(): its `code` says what went wrong. */
export interface EmotionDetectorError extends Error {
  code: EmotionErrorCode;
}

export interface EmotionDetectorElement extends HTMLElement {
  /** Attribute `mode`: what start() starts. 'photo' (default): nothing, the widget waits for pictures. */
  mode: 'photo' | 'camera';
  /** Attribute `smoothing`: EMA time constant of the camera's probabilities, in ms (0: raw). Default 300. */
  smoothing: number;
  /** Attribute `hysteresis`: how far another class must lead before the shown label changes. Default 0.1. */
  hysteresis: number;
  /** Attribute `detector-model`: 'auto' (default), 'short' (near faces) or 'full' (far faces). */
  detectorModel: string;
  /** Attribute `headless`: no visible UI; events and methods only. Tell your visitors what you receive. With
   * mode 'camera' the widget still shows its camera button, status and notice (the frame takes their height), and
   * stops the camera if they are hidden. */
  headless: boolean;
  /** Attribute `server`: origin serving /embed. Default: where embed.js was loaded from. */
  server: string;
  /** True once the models are loaded (after the `ready` event). */
  readonly ready: boolean;

  /** mode 'camera': shows the widget's "Start camera" button (state 'camera-click'); the camera starts only when
   * the visitor clicks it while the widget is plainly visible. Rejects with an EmotionDetectorError if the widget
   * failed to load. */
  start(): Promise<void>;
  /** Stops the camera. */
  stop(): void;
  /** Analyses an image your page holds; it is copied into the widget's frame, never uploaded. While the camera
   * runs, the picture is analysed on the side (not shown) and the video goes on. */
  detect(image: ImageBitmapSource): Promise<EmotionResult>;
  /** Re-reads the --emotion-detector-* custom properties and restyles the widget. */
  updateTheme(): void;

  addEventListener<K extends keyof EmotionDetectorEventMap>(type: K,
    listener: (this: EmotionDetectorElement, event: EmotionDetectorEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof EmotionDetectorEventMap>(type: K,
    listener: (this: EmotionDetectorElement, event: EmotionDetectorEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject,
    options?: boolean | EventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'emotion-detector': EmotionDetectorElement;
  }
}
