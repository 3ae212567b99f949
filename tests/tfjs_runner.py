"""Run a TF.js graph model in real headless Chromium (Debian's) and return its outputs to Python.

The benchmark's static server on 127.0.0.1 serves the model folder and TF.js from node_modules; the page loads
them exactly as the product's page does (``tf.loadGraphModel``) and predicts on the arrays it is given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.browser import CHROMIUM
from tests.shared_assets import REPO

TFJS_DIST = REPO / "node_modules" / "@tensorflow"


def require_browser_stack() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    if not (TFJS_DIST / "tfjs" / "dist" / "tf.min.js").exists():
        pytest.skip("TF.js is not installed (npm ci)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements.txt)")


PREDICT_JS = """
async ({modelUrl, backend, data, shape}) => {
  if (backend === 'wasm') tf.wasm.setWasmPaths(location.origin + '/tfjs-wasm/');
  await tf.setBackend(backend);
  await tf.ready();
  const model = await tf.loadGraphModel(modelUrl);
  const output = model.predict(tf.tensor(data, shape, 'float32'));
  return {backend: tf.getBackend(), values: Array.from(await output.data()), shape: output.shape};
}
"""


def tfjs_predict(browser, model_dir: Path, inputs: np.ndarray, backend: str = "cpu") -> np.ndarray:
    """The graph model's output for ``inputs`` (N, H, W, C), computed by TF.js in a page of ``browser``."""
    from bench.serve import static_server

    require_browser_stack()
    routes = {"/model": model_dir, "/tfjs": TFJS_DIST / "tfjs" / "dist",
              "/tfjs-wasm": TFJS_DIST / "tfjs-backend-wasm" / "dist"}
    with static_server(routes) as base:
        page = browser.new_page()
        try:
            page.goto(f"{base}/model/model.json")  # same origin as the scripts and the model
            page.set_content("<!doctype html><title>tfjs</title>")
            page.add_script_tag(url=f"{base}/tfjs/tf.min.js")
            if backend == "wasm":
                page.add_script_tag(url=f"{base}/tfjs-wasm/tf-backend-wasm.min.js")
            result = page.evaluate(PREDICT_JS, {"modelUrl": f"{base}/model/model.json", "backend": backend,
                                                "data": inputs.astype(np.float32).ravel().tolist(),
                                                "shape": list(inputs.shape)})
        finally:
            page.close()
    assert result["backend"] == backend
    return np.asarray(result["values"], np.float32).reshape(result["shape"])
