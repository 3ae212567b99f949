// Trusted Types: with `require-trusted-types-for 'script'` in the CSP, every string that would become a script URL
// (a <script src>, a Worker) passes through this "default" policy. It lets through URLs of this server only, so an
// injected string can never load a script from elsewhere. No HTML or script-text rule is defined: those sinks stay
// blocked. A classic script loaded first in <head>, so the policy exists before any library touches a sink.
(() => {
  if (!window.trustedTypes?.createPolicy) return; // browsers without Trusted Types: CSP script-src still applies
  const sameOrigin = (url) => {
    try {
      return new URL(url, document.baseURI).origin === location.origin; // blob: URLs we made carry our origin
    } catch {
      return false;
    }
  };
  trustedTypes.createPolicy('default', {
    createScriptURL(url) {
      if (sameOrigin(url)) return url;
      console.error(`Trusted Types: refused to load a script from ${url}: only ${location.origin} may serve scripts`);
      return null; // the browser blocks the sink and reports the violation
    },
  });
})();
