"""The rating server driven over HTTP and in headless Chromium, on a tiny trained DCGAN run."""

from __future__ import annotations

import base64
import fcntl
import http.client
import io
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

import pytest
from PIL import Image

from ganbench.cli import app
from ganbench.errors import UserError
from ganbench.human_eval import ItemSet, RatingSession, VoteLog, build_item_set, run_human_eval
from ganbench.human_eval.server import RatingServer, serve
from ganbench.human_eval.votes import votes_path
from ganbench.imageio import png_bytes
from ganbench.presets import PRESETS, get_preset
from ganbench.context import RunConfig, RunContext
from ganbench.runner import SuiteRunner
from ganbench.runtime import derive_seed
from ganbench.store import RunStore

TINY = get_preset("smoke").with_overrides(name="tiny", resolution=16, steps=2, batch_size=8, width=4,
                                          checkpoint_every=2)
N = 12


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunConfig:
    """A real run folder holding a (barely) trained DCGAN checkpoint and its train record."""
    config = RunConfig(suite="dcgan", preset=TINY, out=tmp_path_factory.mktemp("human_run"), quiet=True)
    runner = SuiteRunner(config)
    assert runner.generation.train_generator("dcgan").status == "ok"
    return config


@pytest.fixture(scope="module")
def context(run: RunConfig) -> RunContext:
    return RunContext(run)


def _request(url: str, method: str = "GET", path: str = "/", body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = url.split("//")[1].rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    connection.request(method, path, body=data, headers=all_headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), payload


def _state(url: str) -> dict[str, Any]:
    status, _, body = _request(url, path="/api/state")
    assert status == 200
    return json.loads(body)


def _vote(url: str, token: str, label: str) -> tuple[int, dict[str, Any]]:
    status, _, body = _request(url, "POST", "/api/vote", {"id": token, "label": label})
    return status, json.loads(body)


def _png(state: dict[str, Any]) -> bytes:
    prefix = "data:image/png;base64,"
    assert state["image"].startswith(prefix)
    return base64.b64decode(state["image"][len(prefix):])


@pytest.fixture()
def served(context: RunContext, tmp_path: Path) -> Iterator[tuple[str, ItemSet, Path]]:
    item_set = build_item_set(context, ["dcgan"], N, "ann")
    path = votes_path(tmp_path, "ann")
    server = RatingServer(RatingSession(item_set, VoteLog(path, "ann", item_set)), "ann").start()
    yield server.url, item_set, path
    server.stop()


def test_votes_are_on_disk_in_order_balanced_and_blind(served: tuple[str, ItemSet, Path]) -> None:
    url, item_set, path = served
    truths = [item.truth for item in item_set.items]
    assert truths.count("real") == truths.count("fake") == N // 2
    assert {item.generator for item in item_set.items if item.truth == "fake"} == {"dcgan"}
    bodies = [_request(url, path=p)[2] for p in ("/", "/app.js", "/app.css")]
    state, tokens, key_sets = _state(url), set(), set()
    for position in range(N):
        assert state["answered"] == position and state["total"] == N and not state["done"]
        png = _png(state)
        assert png == item_set.items[position].png
        assert Image.open(io.BytesIO(png)).size == (16, 16)
        tokens.add(state["id"])
        key_sets.add(frozenset(state))
        bodies.append(json.dumps(state).encode())
        label = "fake" if position % 3 else "real"
        status, state = _vote(url, state["id"], label)
        assert status == 200
        lines = path.read_text().splitlines()
        assert len(lines) == position + 1
        assert json.loads(lines[-1])["vote"] == label and json.loads(lines[-1])["position"] == position
    assert state["done"] and state["answered"] == N and "id" not in state
    labels = ["fake" if position % 3 else "real" for position in range(N)]
    assert state["summary"] == {
        "real_votes": N // 2, "fake_votes": N // 2,
        "real_correct": sum(t == v == "real" for t, v in zip(truths, labels)),
        "fake_correct": sum(t == v == "fake" for t, v in zip(truths, labels))}
    assert state["summary"]["real_correct"] + state["summary"]["fake_correct"] == sum(
        json.loads(line)["correct"] for line in path.read_text().splitlines())
    bodies.append(json.dumps(state).encode())
    assert len(tokens) == N and key_sets == {frozenset({"answered", "total", "done", "id", "image"})}
    for body in bodies:  # nothing the browser receives names a generator or where an image came from
        text = body.decode().lower()
        assert "dcgan" not in text and "generator\"" not in text and "truth" not in text


def test_resume_after_restart_skips_voted_images(context: RunContext, served: tuple[str, ItemSet, Path]) -> None:
    url, item_set, path = served
    for _ in range(5):
        status, _ = _vote(url, _state(url)["id"], "real")
        assert status == 200
    old_token = _state(url)["id"]
    again = build_item_set(context, ["dcgan"], N, "ann")
    assert [i.png for i in again.items] == [i.png for i in item_set.items]  # deterministic per rater and seed
    server = RatingServer(RatingSession(again, VoteLog(path, "ann", again)), "ann").start()
    try:
        state = _state(server.url)
        assert state["answered"] == 5 and _png(state) == item_set.items[5].png
        status, answer = _vote(server.url, old_token, "fake")  # a token of the stopped server
        assert status == 409 and answer["state"]["answered"] == 5
        while not state["done"]:
            status, state = _vote(server.url, state["id"], "fake")
        positions = [json.loads(line)["position"] for line in path.read_text().splitlines()]
        assert positions == list(range(N))
    finally:
        server.stop()


def test_order_depends_on_rater_but_images_do_not(context: RunContext) -> None:
    ann = build_item_set(context, ["dcgan"], N, "ann")
    bob = build_item_set(context, ["dcgan"], N, "bob")
    assert ann.key == bob.key
    assert sorted(i.name for i in ann.items) == sorted(i.name for i in bob.items)
    assert sorted(i.png for i in ann.items) == sorted(i.png for i in bob.items)
    assert [i.name for i in ann.items] != [i.name for i in bob.items]
    # the fakes are new samples, not the runner's "fresh" set that detectors are tested on
    ours = {i.png for i in ann.items if i.truth == "fake"}
    detectors_fresh = context.trained_model("dcgan").sample(N // 2, seed=derive_seed(0, "dcgan", "fresh"))
    assert len(ours) == N // 2 and not ours & {png_bytes(x) for x in detectors_fresh}


def test_real_images_are_distinct_test_images_and_never_more_than_the_test_split(context: RunContext) -> None:
    item_set = build_item_set(context, ["dcgan"], N, "ann")
    reals = [item for item in item_set.items if item.truth == "real"]
    x_test = context.data.x_test
    assert len({item.index for item in reals}) == len(reals) == N // 2
    assert all(item.png == png_bytes(x_test[item.index]) for item in reals)
    whole = build_item_set(context, ["dcgan"], 2 * len(x_test), "ann")
    assert sorted(item.index for item in whole.items if item.truth == "real") == list(range(len(x_test)))
    asked = len(x_test) + 1
    with pytest.raises(UserError, match=f"asks for {asked} real images but the test split holds {len(x_test)}"):
        build_item_set(context, ["dcgan"], 2 * asked, "ann")


def test_bad_requests_are_refused_and_record_nothing(served: tuple[str, ItemSet, Path]) -> None:
    url, _, path = served
    assert urlsplit(url).hostname == "127.0.0.1"  # never reachable from another machine
    token = _state(url)["id"]
    port = url.rstrip("/").rsplit(":", 1)[1]
    assert _request(url, path="/api/state", headers={"Host": f"evil.example:{port}"})[0] == 403
    assert _request(url, "POST", "/api/vote", b"id=x&label=real",
                    {"Content-Type": "application/x-www-form-urlencoded"})[0] == 415
    assert _request(url, "POST", "/api/vote", {"id": token, "label": "maybe"})[0] == 400
    assert _request(url, "POST", "/api/vote", {"id": token})[0] == 400
    assert _request(url, "POST", "/api/vote", {"id": [token], "label": "real"})[0] == 400
    assert _request(url, "POST", "/api/vote", {"id": token, "label": ["real"]})[0] == 400
    assert _request(url, "POST", "/api/vote", b"x" * 5000)[0] == 413
    assert _request(url, path="/etc/passwd")[0] == 404
    assert not path.exists()
    assert _vote(url, token, "real")[0] == 200
    status, answer = _vote(url, token, "fake")  # a double click
    assert status == 409 and answer["state"]["answered"] == 1
    assert len(path.read_text().splitlines()) == 1


def test_a_generator_named_twice_is_rated_once(context: RunContext) -> None:
    """A repeated name neither unbalances the set nor changes its key (which would orphan the votes cast)."""
    once = build_item_set(context, ["dcgan"], N, "ann")
    twice = build_item_set(context, ["dcgan", "dcgan"], N, "ann")
    assert twice.generators == ("dcgan",) and twice.key == once.key
    assert [item.png for item in twice.items] == [item.png for item in once.items]


PAGE_TYPES = {"/": "text/html; charset=utf-8", "/app.css": "text/css; charset=utf-8",
              "/app.js": "text/javascript; charset=utf-8", "/api/state": "application/json",
              "/nowhere": "application/json"}
POLICY = {"default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "img-src": "data:",
          "connect-src": "'self'", "base-uri": "'none'", "form-action": "'none'", "frame-ancestors": "'none'"}


def test_every_answer_carries_its_type_and_the_security_headers_also_under_localhost(
        served: tuple[str, ItemSet, Path]) -> None:
    """No caching, no sniffing, no framing, no referrer, and a policy that only allows the page's own files."""
    url, _, _ = served
    port = url.rstrip("/").rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        for path, content_type in PAGE_TYPES.items():
            status, headers, _ = _request(url, path=path, headers={"Host": host})
            assert status == (404 if path == "/nowhere" else 200), (host, path)
            assert headers["Content-Type"] == content_type
            assert (headers["Cache-Control"], headers["X-Content-Type-Options"], headers["X-Frame-Options"],
                    headers["Referrer-Policy"]) == ("no-store", "nosniff", "DENY", "no-referrer")
            directives = (d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
            assert dict(directives) == POLICY


def test_sigterm_stops_serving_and_gives_the_handlers_back(context: RunContext, tmp_path: Path) -> None:
    """``serve`` takes SIGTERM (a stopped container, a killed job) as it takes Ctrl-C, then restores the handler."""
    item_set = build_item_set(context, ["dcgan"], 2, "sig")
    session = RatingSession(item_set, VoteLog(votes_path(tmp_path, "sig"), "sig", item_set))

    class ReachedTheOuterHandler(Exception):
        pass

    def outer(signum: int, frame: object) -> None:
        raise ReachedTheOuterHandler

    main = threading.main_thread().ident
    previous = signal.signal(signal.SIGTERM, outer)
    try:
        assert serve(session, "sig", 0, lambda url: signal.pthread_kill(main, signal.SIGTERM)) is False
        assert signal.getsignal(signal.SIGTERM) is outer
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert session.answered == 0


def test_page_escapes_the_rater_and_loads_nothing_external(context: RunContext, tmp_path: Path) -> None:
    rater = '<script>alert("x")</script>&'
    item_set = build_item_set(context, ["dcgan"], 2, rater)
    server = RatingServer(RatingSession(item_set, VoteLog(votes_path(tmp_path, rater), rater, item_set)), rater)
    server.start()
    try:
        status, headers, body = _request(server.url)
    finally:
        server.stop()
    page = body.decode()
    assert status == 200 and rater not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    assert "http" not in page and "default-src 'none'" in headers["Content-Security-Policy"]


def test_run_human_eval_stops_on_ctrl_c_and_resumes_to_full_records(run: RunConfig) -> None:
    main = threading.main_thread().ident
    urls: queue.Queue[str] = queue.Queue()

    def rate(count: int | None, interrupt: bool) -> None:
        url = urls.get(timeout=60)
        state = _state(url)
        while not state["done"] and count != 0:
            # "real" every time: right on every real image, fooled by every fake
            state = _vote(url, state["id"], "real")[1]
            count = None if count is None else count - 1
        if interrupt:
            signal.pthread_kill(main, signal.SIGINT)

    helper = threading.Thread(target=rate, args=(4, True))
    helper.start()
    stopped = run_human_eval(run, ["dcgan"], N, "cy", 0, lambda url, done, total: urls.put(url))
    helper.join()
    assert (stopped.answered, stopped.total, stopped.complete) == (4, N, False)
    helper = threading.Thread(target=rate, args=(None, False))
    helper.start()
    finished = run_human_eval(run, ["dcgan"], N, "cy", 0, lambda url, done, total: urls.put(url))
    helper.join()
    assert finished.complete
    records = {(r.kind, r.generator): r for r in RunStore(run.out).records() if r.detector == "human:cy"}
    assert set(records) == {("detection", "dcgan"), ("human", None)}
    row = records[("detection", "dcgan")].metrics
    assert (row["real_acc"], row["fake_acc"], row["fooled_rate"], row["acc"]) == (1.0, 0.0, 1.0, 0.5)
    assert (row["votes"], row["real_votes"], row["fake_votes"]) == (N, N // 2, N // 2)
    assert records[("human", None)].info["complete"] is True


def test_cli_rewrites_records_of_a_finished_rater_and_explains_missing_runs(
        run: RunConfig, cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = cli.invoke(app, ["human-eval", "--out", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "ganbench run --out" in result.output
    RunStore(tmp_path / "empty")
    result = cli.invoke(app, ["human-eval", "--out", str(tmp_path / "empty"), "--generators", "dcgan",
                              "--preset", "smoke"])
    assert result.exit_code == 2 and "run `ganbench train dcgan` first" in result.output
    monkeypatch.setitem(PRESETS._entries, "tiny", TINY)
    result = cli.invoke(app, ["human-eval", "--out", str(run.out), "--n", "7", "--port", "0"])
    assert result.exit_code == 2 and "--n must be a positive even number" in result.output
    result = cli.invoke(app, ["human-eval", "--out", str(run.out), "--port", "70000"])
    assert result.exit_code == 2 and "--port must be between 0 and 65535" in result.output
    urls: queue.Queue[str] = queue.Queue()

    def rate_all() -> None:
        url = urls.get(timeout=60)
        state = _state(url)
        while not state["done"]:
            state = _vote(url, state["id"], "real")[1]

    helper = threading.Thread(target=rate_all)
    helper.start()
    assert run_human_eval(run, ["dcgan"], N, "cli", 0, lambda url, done, total: urls.put(url)).complete
    helper.join()
    result = cli.invoke(app, ["human-eval", "--out", str(run.out), "--rater", "cli", "--n", str(N), "--port", "0"])
    assert result.exit_code == 0, result.output
    assert f"{N}/{N} votes (finished)" in result.output and "fooled rate dcgan 1.00" in result.output


# --------------------------------------------------------------------------- headless Chromium

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class DevTools:
    """The Chrome DevTools protocol over ``--remote-debugging-pipe`` (NUL-separated JSON on fds 3 and 4)."""

    def __init__(self, browser: str, profile: Path) -> None:
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()
        high_in, high_out = (fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10))
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 "--remote-debugging-pipe", "about:blank"]
        redirect = f'exec "$0" "$@" 3<&{high_in} 4>&{high_out} {high_in}<&- {high_out}>&-'
        self.process = subprocess.Popen(["bash", "-c", redirect, browser, *flags],
                                        pass_fds=(high_in, high_out), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        for fd in (to_browser, from_browser, high_in, high_out):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from the browser")
            ready, _, _ = select.select([self._reader], [], [], 0.2)
            if ready:
                chunk = os.read(self._reader, 1 << 16)
                if not chunk:
                    raise RuntimeError("the browser closed the pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 20
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._writer)
        os.close(self._reader)


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@pytest.mark.skipif(_browser() is None, reason="no Chromium/Chrome installed (Debian: apt-get install chromium)")
def test_a_rater_clicks_and_types_through_the_page_in_headless_chromium(context: RunContext, tmp_path: Path) -> None:
    item_set = build_item_set(context, ["dcgan"], 6, "dee")
    path = votes_path(tmp_path, "dee")
    server = RatingServer(RatingSession(item_set, VoteLog(path, "dee", item_set)), "dee <b>").start()
    browser = DevTools(str(_browser()), tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        page = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", page)

        def evaluate(expression: str) -> Any:
            return browser.send("Runtime.evaluate", page, expression=expression, returnByValue=True)["result"].get("value")

        def wait_for(expression: str, expected: Any) -> None:
            deadline = time.monotonic() + 20
            while evaluate(expression) != expected:
                assert time.monotonic() < deadline, f"{expression} never became {expected!r}"
                time.sleep(0.05)

        def click(button: str) -> None:
            box = evaluate(f"(() => {{ const b = document.getElementById('{button}'); b.scrollIntoView();"
                           f" const r = b.getBoundingClientRect();"
                           f" return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
            for kind in ("mousePressed", "mouseReleased"):
                browser.send("Input.dispatchMouseEvent", page, type=kind, x=box[0], y=box[1], button="left",
                             clickCount=1)

        def press(key: str) -> None:
            for kind in ("keyDown", "keyUp"):
                browser.send("Input.dispatchKeyEvent", page, type=kind, key=key, code=f"Key{key.upper()}",
                             text=key if kind == "keyDown" else "", windowsVirtualKeyCode=ord(key.upper()))

        browser.send("Page.navigate", page, url=server.url)
        wait_for("document.getElementById('count').textContent", "0 / 6 rated, 6 left")
        assert evaluate("document.getElementById('rater').textContent") == "dee <b>"
        assert evaluate("getComputedStyle(document.getElementById('image')).imageRendering") == "pixelated"
        assert evaluate("[document.getElementById('image').naturalWidth, document.getElementById('image').width]") \
            == [16, 384]
        actions = [("click", "real"), ("key", "f"), ("click", "fake"), ("key", "r"), ("key", "f"), ("click", "real")]
        for done, (how, what) in enumerate(actions, start=1):
            click(what) if how == "click" else press(what)
            wait_for("document.getElementById('bar').value", done)
        wait_for("document.getElementById('done').hidden", False)
        summary = evaluate("document.getElementById('summary').textContent")
        votes = [json.loads(line) for line in path.read_text().splitlines()]
        assert [v["vote"] for v in votes] == ["real", "fake", "fake", "real", "fake", "real"]
        assert [v["position"] for v in votes] == list(range(6))
        assert summary.startswith(f"You were right on {sum(v['correct'] for v in votes)} of 6 images")
        requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
        assert requests and all(u.startswith(server.url) or u.startswith("data:") for u in requests)
        problems = [e["params"] for e in browser.events
                    if e.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded")
                    and e["params"].get("entry", {}).get("level", "error") == "error"]
        assert not problems, problems
    finally:
        browser.close()
        server.stop()
