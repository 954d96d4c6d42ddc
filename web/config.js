// Runtime configuration: /config.json is written at deploy time. When it is absent (or broken),
// fall back to same-origin defaults so the pages still work behind one domain.
//
// {"apiBase": "/api", "webSocketUrl": "wss://example.com/ws"}

function defaults() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return {
    apiBase: "/api",
    webSocketUrl: `${scheme}//${window.location.host}/ws`,
  };
}

let cached = null;

export function loadConfig() {
  if (!cached) {
    cached = (async () => {
      const config = defaults();
      try {
        // Relative: the pages may be served under a path prefix (the local runtime serves
        // them from the bucket, path-style).
        const response = await fetch("config.json", {
          cache: "no-store",
          credentials: "same-origin",
        });
        if (response.ok) {
          const loaded = await response.json();
          if (loaded && typeof loaded === "object") {
            if (typeof loaded.apiBase === "string" && loaded.apiBase) {
              config.apiBase = loaded.apiBase;
            }
            if (typeof loaded.webSocketUrl === "string" && loaded.webSocketUrl) {
              config.webSocketUrl = loaded.webSocketUrl;
            }
            // The admin sign-in (admin.js): the hosted UI's base URL and the web app's client.
            for (const key of ["adminSignInUrl", "adminClientId"]) {
              if (typeof loaded[key] === "string" && loaded[key]) config[key] = loaded[key];
            }
          }
        }
      } catch {
        // No config file (or not JSON): the defaults stand.
      }
      config.apiBase = config.apiBase.replace(/\/+$/, "");
      return Object.freeze(config);
    })();
  }
  return cached;
}
