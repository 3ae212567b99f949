// Webcam: open a chosen camera, analyse frame after frame, and measure the frames per second achieved.

export class CameraError extends Error {
  constructor(state, message) {
    super(message);
    this.state = state; // one of ui.js STATES
  }
}

function cameraErrorState(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'camera-denied';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'no-camera';
    case 'NotReadableError':
    case 'AbortError':
      return 'camera-busy';
    default:
      return 'error';
  }
}

export class Webcam {
  constructor(video) {
    this.video = video;
    this.stream = null;
  }

  async start(deviceId = '') {
    this.stop();
    if (!window.isSecureContext) throw new CameraError('camera-insecure', 'insecure context');
    if (!navigator.mediaDevices?.getUserMedia) throw new CameraError('unsupported', 'no getUserMedia');
    const video = { width: { ideal: 640 }, height: { ideal: 480 }, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) };
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
    } catch (error) {
      throw new CameraError(cameraErrorState(error), error?.message ?? String(error));
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    return this.stream.getVideoTracks()[0]?.getSettings().deviceId ?? '';
  }

  stop() {
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.video.srcObject = null;
  }

  get running() {
    return this.stream !== null;
  }

  /** Cameras known to the browser; their labels appear only once permission was granted. */
  static async list() {
    const devices = (await navigator.mediaDevices?.enumerateDevices?.()) ?? [];
    return devices.filter((device) => device.kind === 'videoinput');
  }
}

// The next display frame; or a short timer where the browser gives no frames: a hidden or tiny cross-origin iframe
// (the headless embed) gets no requestAnimationFrame callbacks, yet its video keeps playing.
const FRAME_FALLBACK_MS = 40;

function nextFrame() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FRAME_FALLBACK_MS);
    requestAnimationFrame(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Runs `step` once per displayed frame until `shouldRun()` is false; reports frames per second (smoothed). */
export async function frameLoop(step, shouldRun, onFps) {
  let fps = null;
  let last = performance.now();
  while (shouldRun()) {
    await step();
    const now = performance.now();
    const instant = 1000 / Math.max(now - last, 1);
    fps = fps === null ? instant : 0.9 * fps + 0.1 * instant;
    last = now;
    onFps(fps);
    await nextFrame();
  }
  onFps(null);
}
