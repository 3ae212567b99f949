// Wires the page: loads backend, model and detector, then analyses photos or webcam frames on demand.
import { analyse } from './analyse.js';
import { chooseBackend } from './backend.js';
import { load } from './classifier.js';
import { createFaceDetector } from './detector.js';
import { announce } from './messages.js';
import { DecodeError, decodeToCanvas, watchPhotoInputs } from './photo.js';
import { PageUi } from './ui.js';
import { CameraError, Webcam, frameLoop } from './webcam.js';

const config = document.body.dataset;
const ui = new PageUi(document);
const $ = (selector) => document.querySelector(selector);

// Read by tests, the benchmark and anyone scripting the page.
const page = (window.emotionDetector = { state: 'loading', backend: null, lastResult: null, results: 0 });

function setState(state, detail) {
  page.state = state;
  ui.setState(state, detail);
  announce('state', { state });
}

function browserSupported() {
  return typeof WebAssembly === 'object' && typeof createImageBitmap === 'function' && 'customElements' in window
    && !!document.createElement('canvas').getContext('webgl2');
}

async function loadModels() {
  ui.setProgress(0.05, 'Loading TensorFlow.js…');
  page.backend = await chooseBackend({ wasmPath: config.wasmPath, preferred: new URLSearchParams(location.search).get('backend') });
  ui.setBackend(page.backend);
  ui.setProgress(0.1, 'Loading the emotion model…');
  let classifier;
  try {
    classifier = await load({ modelUrl: config.modelUrl, onProgress: (fraction) => ui.setProgress(0.1 + 0.6 * fraction) });
  } catch (error) {
    throw Object.assign(error, { state: 'model-error' });
  }
  ui.setProgress(0.75, 'Loading the face detector…');
  let detector;
  try {
    detector = await createFaceDetector({ solutionPath: config.faceDetectionPath, modelName: $('#detector-range').value });
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
  if (!browserSupported()) return setState('unsupported');
  setState('loading');
  let models;
  try {
    models = await loadModels();
  } catch (error) {
    console.error(error);
    return setState(error.state ?? 'error', error.message);
  }
  const { classifier, detector } = models;
  const labels = classifier.labels;
  page.metadata = classifier.metadata;
  setState('ready');

  const canvas = $('#photo-canvas');
  const video = $('#video');
  const webcam = new Webcam(video);
  const cameraButton = $('#camera-toggle');
  const cameraSelect = $('#camera-select');

  async function analysePhoto(file) {
    stopCamera();
    ui.clearFaces();
    setState('working');
    try {
      await decodeToCanvas(file, canvas);
    } catch (error) {
      canvas.hidden = true;
      return setState(error instanceof DecodeError ? 'decode-error' : 'error', error.message);
    }
    video.hidden = true;
    canvas.hidden = false;
    const result = await analyse(canvas, detector, classifier);
    // The exact model input for face i of this photo: lets tests compare the crop with the Python reference.
    page.modelInput = async (index) => {
      const input = classifier.inputTensor(canvas, [result.faces[index].crop]);
      const values = await input.array();
      input.dispose();
      return values[0];
    };
    publish(result, 'photo', labels);
    if (result.faces.length === 0) setState('no-face');
    else setState('faces', `${result.faces.length} face${result.faces.length > 1 ? 's' : ''} found.`);
  }

  async function fillCameraList(activeId) {
    const cameras = await Webcam.list();
    cameraSelect.replaceChildren(...cameras.map((camera, index) => new Option(camera.label || `Camera ${index + 1}`, camera.deviceId)));
    cameraSelect.value = activeId;
    cameraSelect.disabled = cameras.length < 2;
  }

  let cameraRun = 0; // each start gets a number; a loop from an earlier start stops itself

  async function startCamera() {
    const run = ++cameraRun;
    ui.clearFaces();
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
    cameraButton.disabled = false;
    cameraButton.textContent = 'Stop camera';
    cameraButton.setAttribute('aria-pressed', 'true');
    setState('faces', 'Camera running.');
    let lastCount = -1;
    await frameLoop(async () => {
      if (video.readyState < 2) return;
      const result = await analyse(video, detector, classifier);
      if (!webcam.running || run !== cameraRun) return;
      publish(result, 'webcam', labels);
      if (result.faces.length !== lastCount) {
        lastCount = result.faces.length;
        if (lastCount === 0) setState('no-face');
        else setState('faces', `Camera running: ${lastCount} face${lastCount > 1 ? 's' : ''}.`);
      }
    }, () => webcam.running && run === cameraRun, (fps) => ui.setFps(fps));
  }

  function stopCamera() {
    if (!webcam.running) return;
    webcam.stop();
    cameraButton.textContent = 'Start camera';
    cameraButton.setAttribute('aria-pressed', 'false');
    setState('ready');
  }

  watchPhotoInputs({ input: $('#photo-input'), dropZone: $('#drop-zone'), onFile: analysePhoto });
  cameraButton.addEventListener('click', () => (webcam.running ? stopCamera() : startCamera()));
  cameraSelect.addEventListener('change', () => webcam.running && startCamera());
  $('#detector-range').addEventListener('change', async (event) => {
    await detector.useModel(event.target.value);
  });
  for (const control of document.querySelectorAll('[data-needs-models]')) control.disabled = false;
  cameraSelect.disabled = true;
  announce('ready', { labels, backend: page.backend });
}

main();
