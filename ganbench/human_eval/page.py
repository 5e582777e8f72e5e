"""The rating page: one HTML file, one style sheet and one script, no external assets.

One image at a time, enlarged with nearest-neighbour scaling (``image-rendering: pixelated``) so
the rater sees the generator's pixels rather than the browser's smoothing; two buttons and the
R / F keys; a progress bar. The layout follows the one-image, two-choice trials of HYPE (Zhou et
al., "HYPE: A Benchmark for Human eYe Perceptual Evaluation of Generative Models", NeurIPS 2019).
Everything the page shows from the server is escaped (HTML) or set as text (script).
"""

from __future__ import annotations

import html
from string import Template

DISPLAY_PIXELS = 384

CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

HTML = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Real or fake? - ganbench</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<main>
<header>
<h1>Real or fake?</h1>
<p class="who">Rater: <span id="rater">$rater</span></p>
<p>Is this image from the real data set, or made by a generator? Answer with the buttons or the keys
<kbd>R</kbd> and <kbd>F</kbd>.</p>
</header>
<div class="progress">
<progress id="bar" max="1" value="0"></progress>
<span id="count" aria-live="polite">loading...</span>
</div>
<section id="trial">
<img id="image" width="$pixels" height="$pixels" alt="the image to rate">
<div class="choices">
<button id="real" type="button" disabled><u>R</u>eal</button>
<button id="fake" type="button" disabled><u>F</u>ake</button>
</div>
</section>
<section id="done" hidden>
<h2>Thank you, all done.</h2>
<p id="summary"></p>
<p>Your votes are saved; you can close this tab.</p>
</section>
<p id="message" role="alert"></p>
<noscript><p>This page needs JavaScript enabled (no framework, no external files).</p></noscript>
</main>
</body>
</html>
""")

CSS = """
body { font-family: system-ui, sans-serif; background: #f4f4f4; color: #222; margin: 0; }
main { max-width: 40rem; margin: 0 auto; padding: 1rem; text-align: center; }
h1 { margin: 0.5rem 0; }
.who { color: #555; }
.progress { display: flex; align-items: center; gap: 0.75rem; justify-content: center; margin: 1rem 0; }
progress { width: 60%; height: 1rem; }
#image { image-rendering: pixelated; background: #000;
         border: 1px solid #999; max-width: 100%; height: auto; }
.choices { display: flex; gap: 1rem; justify-content: center; margin: 1rem 0; }
button { font-size: 1.25rem; padding: 0.6rem 2rem; border-radius: 0.4rem; border: 1px solid #666;
         background: #fff; cursor: pointer; }
button:disabled { opacity: 0.5; cursor: default; }
kbd { border: 1px solid #999; border-radius: 0.2rem; padding: 0 0.3rem; background: #fff; }
#message { color: #a00; min-height: 1.5em; }
"""

SCRIPT = """
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let current = null;
  let busy = false;

  function enable(on) {
    $("real").disabled = !on;
    $("fake").disabled = !on;
  }

  function percent(a, b) {
    return b ? Math.round((100 * a) / b) + "%" : "-";
  }

  function show(state) {
    $("bar").max = state.total;
    $("bar").value = state.answered;
    $("count").textContent = state.answered + " / " + state.total + " rated, " +
      (state.total - state.answered) + " left";
    if (state.done) {
      current = null;
      enable(false);
      $("trial").hidden = true;
      $("done").hidden = false;
      const s = state.summary;
      const right = s.real_correct + s.fake_correct;
      const all = s.real_votes + s.fake_votes;
      $("summary").textContent = "You were right on " + right + " of " + all + " images (" +
        percent(right, all) + "): " + s.real_correct + " of " + s.real_votes + " real images and " +
        s.fake_correct + " of " + s.fake_votes + " fakes.";
      return;
    }
    current = state.id;
    $("image").src = state.image;
    enable(true);
  }

  async function call(method, path, body) {
    const options = { method: method, headers: {}, cache: "no-store" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    return response.json();
  }

  function failed() {
    enable(false);
    $("message").textContent = "The server does not answer (was it stopped?). Your votes so far are saved; " +
      "start it again with the same rater name to go on.";
  }

  async function vote(label) {
    if (busy || current === null) return;
    busy = true;
    enable(false);
    try {
      const answer = await call("POST", "/api/vote", { id: current, label: label });
      $("message").textContent = answer.error || "";
      const state = answer.state || (answer.error ? null : answer);
      if (state) show(state);
      else enable(true);
    } catch (error) {
      failed();
    } finally {
      busy = false;
    }
  }

  async function start() {
    try {
      show(await call("GET", "/api/state"));
    } catch (error) {
      failed();
    }
  }

  $("real").addEventListener("click", () => vote("real"));
  $("fake").addEventListener("click", () => vote("fake"));
  document.addEventListener("keydown", (event) => {
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "r") vote("real");
    else if (key === "f") vote("fake");
  });
  start();
})();
"""


def display_pixels(resolution: int) -> int:
    """On-screen side: the largest whole multiple of ``resolution`` up to 384 px (at least 1x)."""
    return resolution * max(1, DISPLAY_PIXELS // resolution)


def render(rater: str, resolution: int) -> dict[str, tuple[str, bytes]]:
    """URL path -> (content type, body) of the page's three files."""
    page = HTML.substitute(rater=html.escape(rater, quote=True), pixels=display_pixels(resolution))
    return {"/": ("text/html; charset=utf-8", page.encode()),
            "/app.css": ("text/css; charset=utf-8", CSS.encode()),
            "/app.js": ("text/javascript; charset=utf-8", SCRIPT.encode())}
