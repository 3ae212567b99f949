// Wires the page: loads backend, model and detector, then analyses photos, webcam frames, or pictures the embedding
// page sends. Every analysis runs under a deadline, a failed or hung detector is rebuilt, a picture's result is
// shown only if no newer picture was chosen meanwhile, and video faces are tracked and smoothed (timeline.js).
import { analyse, classifyFaces, findFaces } from './analyse.js';
import { annotatedPng } from './annotate.js';
import { chooseBackend } from './backend.js';
import { load } from './classifier.js';
import { CameraGuard } from './camera-guard.js';
import { ClassifierThread } from './classifier-thread.js';
import { createFaceDetector } from './detector.js';
import { fileStem, saveBlob } from './download.js';
import { loadClassicScripts } from './scripts.js';
import { resultRows, toCsv, toJson } from './export.js';
import { announce, announceHeight, embedded, onCommand, originError, receiverOrigin } from './messages.js';
import { DecodeError, SizeError, analysisSize, decodeToCanvas, drawForAnalysis, watchPhotoInputs } from './photo.js';
import { SupervisedDetector } from './supervised-detector.js';
import { applyTheme } from './theme.js';
import { FaceTimeline, stillFaces } from './timeline.js';
import { TimeoutError, withTimeout } from './timeout.js';
import { PageUi, isErrorState } from './ui.js';
import { CameraError, Webcam, frameLoop } from './webcam.js';

const config = document.body.dataset;
const params = new URLSearchParams(location.search);
const ui = new PageUi(document);
const $ = (selector) => document.querySelector(selector);

function numberParam(name, fallback) {
  const value = Number.parseFloat(params.get(name) ?? '');
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

// Read by tests, the benchmark and anyone scripting the page.
const page = (window.emotionDetector = {
  state: 'loading',
  backend: null,
  lastResult: null,
  results: 0,
  pictures: 0, // pictures whose outcome (result or error message) has been shown
  staleResults: 0, // picture results dropped because a newer picture was chosen before they were ready
  // Deadlines: decoding a 144-megapixel JPEG takes ~3 s here and a first detection compiles its graph, so these
  // only ever catch work that will not finish. Scripts may lower them (tests do, to exercise the recovery).
  timeouts: { decodeMs: 30_000, analysisMs: 20_000, loadMs: 120_000 },
  // Video: EMA time constant of the probabilities (ms; 0 = raw) and the lead another label needs to take over.
  options: { smoothingMs: numberParam('smoothing', 300), hysteresis: numberParam('hysteresis', 0.1) },
  detectorRestarts: 0,
  // Where camera frames' faces are classified: 'main' (this thread, after detection) or, opted into with
  // ?pipeline=worker, 'worker' (a worker, while this thread detects the next frame's faces) once it has loaded.
  // Measured with bench/page_speed.py --variants: no faster on two busy cores, and later results (docs/page.md).
  pipeline: 'main',
  // The still picture on screen (photo, snapshot or detect()) that the download buttons save: {picture, result, source}.
  still: null,
});

function setState(state, detail) {
  page.state = state;
  ui.setState(state, detail);
  announce('state', { state });
  if (isErrorState(state)) announce('error', { code: state, message: ui.statusText.textContent });
}

/** Tells the page's listeners and the embedding page about a video event (face-enter, face-leave, emotion-change). */
function emit({ type, detail }) {
  document.dispatchEvent(new CustomEvent(type, { detail }));
  announce(type, detail);
}

function failureState(error) {
  if (error instanceof DecodeError) return 'decode-error';
  if (error instanceof SizeError) return 'size-error';
  if (error instanceof TimeoutError) return 'timeout';
  return 'analysis-error';
}

function failureDetail(error, detectorRestarted) {
  return detectorRestarted ? `${error.message}. The face detector was restarted.` : error.message;
}

function browserSupported() {
  return typeof WebAssembly === 'object' && typeof createImageBitmap === 'function' && 'customElements' in window
    && !!document.createElement('canvas').getContext('webgl2');
}

async function loadModels() {
  ui.setProgress(0.02, 'Loading TensorFlow.js…');
  try {
    await loadClassicScripts([config.tfjsScript, config.tfjsWasmScript]);
  } catch (error) {
    throw Object.assign(error, { state: 'model-error' });
  }
  ui.setProgress(0.05);
  page.backend = await chooseBackend({ wasmPath: config.wasmPath, preferred: params.get('backend') });
  ui.setBackend(page.backend);
  ui.setProgress(0.1, 'Loading the emotion model…');
  let classifier;
  try {
    classifier = await load({ modelUrl: config.modelUrl, onProgress: (fraction) => ui.setProgress(0.1 + 0.6 * fraction) });
  } catch (error) {
    throw Object.assign(error, { state: 'model-error' });
  }
  ui.setProgress(0.75, 'Loading the face detector…');
  const select = $('#detector-range');
  if ([...select.options].some((option) => option.value === params.get('detector'))) select.value = params.get('detector');
  const detector = new SupervisedDetector(
    (modelName) => createFaceDetector({ modelsPath: config.faceModelsPath, modelName }),
    { modelName: select.value, timeouts: page.timeouts },
  );
  try {
    await detector.ready();
  } catch (error) {
    throw Object.assign(error, { state: 'detector-error' });
  }
  return { classifier, detector };
}

function publish(result, source, labels) {
  page.lastResult = result;
  page.results += 1;
  ui.showFaces(result, labels);
  announce('result', { source, ...result });
  document.dispatchEvent(new CustomEvent('emotions', { detail: result }));
}

async function main() {
  if (originError) {
    console.error(originError);
    return setState('origin-error', originError);
  }
  ui.showReceiver(receiverOrigin);
  if (params.has('headless')) document.body.classList.add('headless');
  if (params.get('mode') === 'camera') document.body.classList.add('camera-asked');
  announceHeight($('#main'));
  if (!browserSupported()) return setState('unsupported');

  // The models (TF.js, the classifier, the face detector: megabytes, and seconds of a phone's CPU) load once, when
  // first needed. The main page waits for the visitor to reach for a control, so a visit that only reads costs
  // nothing; the embedded widget loads at once, since its host page waits for "ready".
  let classifier = null;
  let detector = null;
  let labels = [];
  let loading = null;

  /** Loads the models once; resolves true when ready, false if they failed (the status says why). */
  function loadOnce() {
    loading ??= (async () => {
      setState('loading');
      try {
        ({ classifier, detector } = await loadModels());
      } catch (error) {
        console.error(error);
        setState(error.state ?? 'error', error.message);
        return false;
      }
      labels = classifier.labels;
      page.metadata = classifier.metadata;
      Object.defineProperty(page, 'detectorRestarts', { get: () => detector.recreated });
      setState('ready');
      announce('ready', { labels, backend: page.backend });
      return true;
    })();
    return loading;
  }
  page.load = loadOnce;

  const canvas = $('#photo-canvas');
  const video = $('#video');
  const webcam = new Webcam(video);
  const cameraButton = $('#camera-toggle');
  const cameraSelect = $('#camera-select');
  // Embedded, only the visitor's click on this visible button starts the camera, and hiding it stops the camera.
  const guard = !embedded ? null : new CameraGuard({
    button: cameraButton, controls: $('.camera-row'), picture: $('.stage'), onHidden: () => stopCamera('camera-hidden'),
  });
  const snapshotButton = $('#snapshot');
  const stage = $('.stage');
  const downloadButtons = ['csv', 'json', 'png'].map((format) => $(`#download-${format}`));

  // One analysis, under a deadline on top of the detector's own (which also rebuilds the detector).
  function analyseWithDeadline(source) {
    return withTimeout(analyse(source, detector, classifier), page.timeouts.analysisMs * 1.5, 'Analysing the picture');
  }

  let thread = null; // the ClassifierThread once started and loaded
  let threadStart = null;

  /** Loads the classifier worker in the background the first time the camera starts (wasm backend only). */
  function startClassifierThread() {
    const wanted = params.get('pipeline') === 'worker' && page.backend === 'wasm' && typeof Worker === 'function'
      && typeof OffscreenCanvas === 'function';
    if (!wanted || threadStart) return;
    const { wasmPath, modelUrl } = config;
    threadStart = ClassifierThread.start({ wasmPath, modelUrl }).then((started) => {
      thread = started;
      page.pipeline = 'worker';
    }, (error) => console.warn('Classifier worker unavailable; camera frames are classified on the page:', error));
  }

  function dropClassifierThread(error) {
    if (!thread) return;
    console.warn('Classifier worker failed; camera frames are classified on the page from now on:', error);
    thread.terminate();
    thread = null;
    page.pipeline = 'main';
  }

  /**
   * One camera frame. Resolves once its faces are found, with {result}: a Promise of the full result, already
   * settled on this thread, still running in the worker otherwise.
   */
  async function analyseFrame(video) {
    if (!thread) return { result: Promise.resolve(await analyseWithDeadline(video)) };
    // The worker gets the frame as a bitmap, taken in the same task as the detector reads the video, so both see the
    // same frame. The detector itself reads the video element: the browser scales a video and a bitmap differently.
    const bitmap = createImageBitmap(video);
    const deadline = page.timeouts.analysisMs * 1.5;
    let found;
    try {
      const finding = findFaces(video, detector, classifier.preprocessing.face_crop);
      found = await withTimeout(finding, deadline, 'Analysing the picture');
    } catch (error) {
      bitmap.then((frame) => frame.close(), () => {});
      throw error;
    }
    const frame = await bitmap;
    const worker = thread;
    const classifying = withTimeout(classifyFaces(frame, found, worker), deadline, 'Classifying the faces');
    const result = classifying.catch((error) => {
      if (thread === worker) dropClassifierThread(error);
      throw error;
    });
    return { result };
  }

  let pictureRun = 0; // each picture gets a number; only the newest one's result is shown

  /**
   * Analyses one picture that `prepare(canvas)` draws (returning the picture's own {width, height}). Shows it
   * unless a newer picture (or the camera) came first; `name` names it in the downloads.
   * @returns {Promise<object>} the result, even when no longer shown (a detect() caller still wants its own)
   */
  async function analysePicture(prepare, source, name) {
    const run = ++pictureRun;
    const current = () => run === pictureRun;
    stopCamera();
    ui.clearFaces();
    setStill(null);
    setState('working');
    const restarts = detector.recreated;
    try {
      const { work, size } = await drawPicture(prepare);
      if (current()) show(work);
      const result = await analyseStill(work);
      if (!current()) {
        page.staleResults += 1;
        return result;
      }
      // The exact model input for face i of this picture: lets tests compare the crop with the Python reference.
      page.modelInput = async (index) => {
        const input = classifier.inputTensor(work, [result.faces[index].crop]);
        const values = await input.array();
        input.dispose();
        return values[0];
      };
      publish(result, source, labels);
      setStill({ picture: work, result, source: { name, ...size } });
      if (result.faces.length === 0) setState('no-face');
      else setState('faces', `${result.faces.length} face${result.faces.length > 1 ? 's' : ''} found.`);
      page.pictures += 1;
      return result;
    } catch (error) {
      if (current()) {
        console.error(error);
        if (error instanceof DecodeError || error instanceof SizeError) canvas.hidden = true;
        setState(failureState(error), failureDetail(error, detector.recreated > restarts));
        page.pictures += 1;
      } else {
        page.staleResults += 1;
      }
      throw error;
    }
  }

  /** Analyses a picture without showing it or touching the page's state: detect() while the camera runs. */
  async function analyseAside(prepare) {
    return analyseStill((await drawPicture(prepare)).work);
  }

  /** A canvas of its own for each picture, so a newer picture never draws over one being analysed. */
  async function drawPicture(prepare) {
    const work = document.createElement('canvas');
    const size = await withTimeout(Promise.resolve().then(() => prepare(work)), page.timeouts.decodeMs, 'Reading the picture');
    return { work, size };
  }

  async function analyseStill(work) {
    const analysed = await analyseWithDeadline(work);
    return { ...analysed, faces: stillFaces(analysed.faces) };
  }

  function show(picture) {
    canvas.width = picture.width;
    canvas.height = picture.height;
    canvas.getContext('2d').drawImage(picture, 0, 0);
    stage.style.setProperty('--aspect', String(picture.width / picture.height));
    video.hidden = true;
    canvas.hidden = false;
  }

  async function analysePhoto(file) {
    if (!(await loadOnce())) return;
    const name = file.name || 'photo';
    await analysePicture((work) => decodeToCanvas(file, work), 'photo', name).catch(() => {}); // shown by analysePicture
  }

  /** Freezes the camera's current frame and analyses it as a photo: the same table and downloads follow. */
  async function takeSnapshot() {
    if (!webcam.running || video.readyState < 2) return;
    const frame = document.createElement('canvas');
    const size = { width: video.videoWidth, height: video.videoHeight };
    drawForAnalysis(video, size.width, size.height, frame, 'The camera picture');
    const taken = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
    const prepare = (work) => {
      work.width = frame.width;
      work.height = frame.height;
      work.getContext('2d').drawImage(frame, 0, 0);
      return size;
    };
    await analysePicture(prepare, 'snapshot', `camera-snapshot-${taken}.png`).catch(() => {}); // shown there
  }

  /** The still picture the download buttons save, or null (nothing, or the camera is running). */
  function setStill(still) {
    page.still = still;
    for (const button of downloadButtons) button.disabled = !still || still.result.faces.length === 0;
  }

  async function download(format) {
    const { picture, result, source } = page.still ?? {};
    if (!picture) return;
    const stem = fileStem(source.name);
    if (format === 'png') {
      saveBlob(await annotatedPng(picture, result, labels), `${stem}-annotated.png`);
      return;
    }
    const table = resultRows(result, labels, source);
    const [text, type] = format === 'csv' ? [toCsv(table), 'text/csv'] : [toJson(table), 'application/json'];
    saveBlob(new Blob([text], { type: `${type};charset=utf-8` }), `${stem}-emotions.${format}`);
  }

  async function fillCameraList(activeId) {
    const cameras = await Webcam.list();
    cameraSelect.replaceChildren(...cameras.map((camera, index) => new Option(camera.label || `Camera ${index + 1}`, camera.deviceId)));
    cameraSelect.value = activeId;
    cameraSelect.disabled = cameras.length < 2;
  }

  let cameraRun = 0; // each start gets a number; a loop from an earlier start stops itself
  let timeline = null;

  async function startCamera() {
    if (!(await loadOnce())) return;
    const run = ++cameraRun;
    pictureRun += 1; // a picture still being analysed must not cover the video
    ui.clearFaces();
    setStill(null);
    cameraButton.disabled = true;
    try {
      const activeId = await webcam.start(cameraSelect.value);
      await fillCameraList(activeId);
    } catch (error) {
      cameraButton.disabled = false;
      return setState(error instanceof CameraError ? error.state : 'error', error.message);
    }
    canvas.hidden = true;
    video.hidden = false;
    stage.style.setProperty('--aspect', String((video.videoWidth || 4) / (video.videoHeight || 3)));
    cameraButton.disabled = false;
    cameraButton.textContent = 'Stop camera';
    cameraButton.setAttribute('aria-pressed', 'true');
    guard?.setRunning(true);
    snapshotButton.hidden = false;
    ui.summary.setAttribute('aria-live', 'off'); // a count changing with every frame is not read out
    setState('faces', 'Camera running.');
    const live = () => webcam.running && run === cameraRun;
    const frames = new FaceTimeline(labels, page.options);
    timeline = frames;
    let lastCount = -1;
    const failed = async (error, restarts) => {
      if (!live()) return;
      console.error(error);
      setState(failureState(error), failureDetail(error, detector.recreated > restarts));
      lastCount = -1; // the next good frame says how many faces again
      await new Promise((resolve) => setTimeout(resolve, 500)); // a failing detector is not hammered
    };
    const shown = (result, capturedMs) => {
      if (!live()) return;
      const { faces, events } = frames.update(result.faces, capturedMs);
      const latencyMs = performance.now() - capturedMs; // from the frame's capture to its result
      publish({ ...result, faces, timings: { ...result.timings, latencyMs } }, 'webcam', labels);
      events.forEach(emit);
      if (faces.length !== lastCount) {
        lastCount = faces.length;
        if (lastCount === 0) setState('no-face');
        else setState('faces', `Camera running: ${lastCount} face${lastCount > 1 ? 's' : ''}.`);
      }
    };
    startClassifierThread();
    let classifying = Promise.resolve(); // the previous frame's classification (and its publication)
    await frameLoop(async () => {
      if (video.readyState < 2) return;
      const capturedMs = performance.now();
      const restarts = detector.recreated;
      let analysis;
      try {
        analysisSize(video.videoWidth, video.videoHeight, 'The camera picture'); // throws for degenerate sizes
        analysis = await analyseFrame(video);
      } catch (error) {
        await classifying;
        return failed(error, restarts);
      }
      // In the worker pipeline the previous frame was classified while this one's faces were found: wait for it,
      // so that results come in order and at most one frame waits; this frame's classification then runs on.
      await classifying;
      classifying = analysis.result.then((result) => shown(result, capturedMs), (error) => failed(error, restarts));
    }, live, (fps) => ui.setFps(fps));
    await classifying;
    frames.clear().forEach(emit);
  }

  function stopCamera(state = 'ready') {
    if (!webcam.running) return;
    webcam.stop();
    guard?.setRunning(false);
    cameraButton.textContent = 'Start camera';
    cameraButton.setAttribute('aria-pressed', 'false');
    snapshotButton.hidden = true;
    ui.summary.setAttribute('aria-live', 'polite');
    setState(state);
  }

  // The embedding page's start(): the widget shows its camera button and the visitor decides.
  function askForCamera() {
    if (webcam.running) return;
    document.body.classList.add('camera-asked');
    setState('camera-click');
  }

  function toggleCamera(event) {
    if (webcam.running) return stopCamera();
    if (guard && !event.isTrusted) return undefined; // a script's click inside the widget is not the visitor's
    if (guard && !guard.allows(event)) return setState('camera-hidden');
    return startCamera();
  }

  function configure({ smoothingMs, hysteresis, detectorModel, theme, headless } = {}) {
    if (typeof headless === 'boolean') document.body.classList.toggle('headless', headless);
    if (Number.isFinite(smoothingMs) && smoothingMs >= 0) page.options.smoothingMs = smoothingMs;
    if (Number.isFinite(hysteresis) && hysteresis >= 0) page.options.hysteresis = hysteresis;
    timeline?.configure(page.options);
    if (theme) applyTheme(theme);
    if (detectorModel && [...$('#detector-range').options].some((option) => option.value === detectorModel)) {
      $('#detector-range').value = detectorModel; // read when the models load, if they have not yet
      detector?.useModel(detectorModel).catch((error) => setState('detector-error', error.message));
    }
  }

  // Commands from the embedding page (embed.js): start, stop, detect(image), configure.
  onCommand(async (kind, detail) => {
    if (kind !== 'configure' && !(await loadOnce())) {
      if (kind === 'detect') announce('detect-error', { id: detail.id, code: page.state, message: ui.statusText.textContent });
      return;
    }
    if (kind === 'configure') configure(detail);
    else if (kind === 'start' && detail.mode === 'camera') askForCamera();
    else if (kind === 'stop') stopCamera();
    else if (kind === 'detect') {
      const { id, image } = detail;
      try {
        if (!(image instanceof ImageBitmap)) throw new DecodeError('detect() was given no image.');
        const prepare = (work) => {
          drawForAnalysis(image, image.width, image.height, work, 'The image');
          return { width: image.width, height: image.height };
        };
        // While the camera runs, the picture is analysed on the side: the video stays on screen.
        const result = await (webcam.running ? analyseAside(prepare) : analysePicture(prepare, 'detect', 'picture'));
        announce('detect-result', { id, result });
      } catch (error) {
        announce('detect-error', { id, code: failureState(error), message: error.message });
      } finally {
        image?.close?.();
      }
    }
  });

  page.configure = configure;
  watchPhotoInputs({ input: $('#photo-input'), dropZone: $('#drop-zone'), onFile: analysePhoto });
  cameraButton.addEventListener('click', toggleCamera);
  cameraSelect.addEventListener('change', () => webcam.running && startCamera());
  snapshotButton.addEventListener('click', takeSnapshot);
  downloadButtons.forEach((button, index) => button.addEventListener('click', () => {
    download(['csv', 'json', 'png'][index]).catch((error) => setState('error', error.message));
  }));
  $('#detector-range').addEventListener('change', (event) => configure({ detectorModel: event.target.value }));
  const enableControls = () => {
    for (const control of document.querySelectorAll('[data-needs-models]')) control.disabled = false;
    cameraSelect.disabled = true;
  };
  if (config.embed === 'true') {
    if (await loadOnce()) enableControls();
  } else {
    enableControls(); // a photo chosen or the camera started before the models are in waits for them
    setState('idle');
    const intents = ['pointerover', 'focusin', 'touchstart', 'dragenter', 'paste'];
    const start = () => {
      intents.forEach((type) => document.removeEventListener(type, start, true));
      loadOnce();
    };
    intents.forEach((type) => document.addEventListener(type, start, { capture: true, passive: true }));
  }
}

main();
