// Picks the fastest TF.js backend this browser can actually run, in order: WebGL, WebAssembly, plain JavaScript.
const PREFERENCE = ['webgl', 'wasm', 'cpu'];

// WebGL drawn in software (no GPU, e.g. SwiftShader) is ~20× slower than WASM for this model: skip it then.
function webglIsSoftware() {
  const gl = document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl');
  if (!gl) return true;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  return /swiftshader|llvmpipe|software/i.test(String(renderer));
}

/**
 * @param {{wasmPath: string, preferred?: string|null}} options  wasmPath: URL folder of the backend's .wasm files
 * @returns {Promise<string>} the backend in use
 */
export async function chooseBackend({ wasmPath, preferred = null }) {
  const tf = globalThis.tf;
  if (!tf) throw new Error('TensorFlow.js did not load');
  // Served by our own server, never a CDN: the page's Content-Security-Policy would block one anyway.
  tf.wasm.setWasmPaths(wasmPath);
  const automatic = webglIsSoftware() ? PREFERENCE.filter((name) => name !== 'webgl') : PREFERENCE;
  const order = PREFERENCE.includes(preferred) ? [preferred, ...automatic.filter((name) => name !== preferred)] : automatic;
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch (error) {
      console.info(`TF.js backend ${name} unavailable:`, error?.message ?? error);
    }
  }
  throw new Error('No TensorFlow.js backend works in this browser');
}
