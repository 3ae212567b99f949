// TF.js ships as classic scripts that set globalThis.tf. They are added to the page only when the models are
// needed, so a visit that never analyses anything neither downloads nor runs them.

/** Adds the scripts at `urls` (this server's) one after the other; resolves once the last has run. */
export async function loadClassicScripts(urls) {
  for (const url of urls) {
    await new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.onload = resolve;
      script.onerror = () => reject(new Error(`The script ${url} could not be loaded. Reload the page.`));
      script.src = url; // passes the Trusted Types policy (trusted-types.js): this server's URLs only
      document.head.append(script);
    });
  }
}
