"""Real HTTP servers on 127.0.0.1 for the LLM client's tests.

`llama_server`: llama-cpp-python's OpenAI-compatible server serving the embedded
SmolLM2 GGUF. `FaultyLLMServer`: the tests' own fault-injecting server: a fake
LLM that answers chat completions from a script (429 with Retry-After, 500, a
hang, a malformed body, errors and answers that echo the request's Authorization header as
a careless proxy does, then valid answers) and records every request's body, so
retries, what they carry and what becomes of a provider's error text can be proven.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_llama_server(model_path: str, timeout: float = 60) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            model_path,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "8192",
            "--model_alias",
            "smollm2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=1) as response:
                if response.status == 200:
                    return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("llama_cpp.server did not start in time")


def completion_body(content: str, *more: str) -> bytes:
    """A chat completion whose choices are `content` and `more` (an n > 1 call's answers)."""
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "fake",
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
                for i, text in enumerate([content, *more])
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    ).encode()


class RespondingLLMServer:
    """A fake LLM that answers each chat completion with what `respond(body)` returns (its
    choices, one or more), recording every body in order: for a tuner whose requests differ
    in kind (LLAMBO's candidates and surrogate), answered by what each one asks."""

    def __init__(self, respond):
        self.bodies: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                server.bodies.append(body)
                answer = completion_body(*respond(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> RespondingLLMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FaultyLLMServer:
    """Serves `script` in order (one entry per request), then valid answers from `answers`."""

    def __init__(self, script: list[str], answers: list[str], hang_seconds: float = 3.0):
        self.script = list(script)
        self.answers = list(answers)
        self.hang_seconds = hang_seconds
        self.requests: list[tuple[float, str]] = []  # (time, what was served)
        self.headers: list[dict[str, str]] = []
        self.bodies: list[dict] = []  # each request's JSON body, in order
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.bodies.append(json.loads(body))
                server.headers.append(dict(self.headers))
                behaviour = server.script.pop(0) if server.script else "ok"
                server.requests.append((time.monotonic(), behaviour))
                if behaviour == "429":
                    self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": "1"})
                elif behaviour == "500":
                    self._send(500, b'{"error": {"message": "internal error"}}')
                elif behaviour == "hang":
                    time.sleep(server.hang_seconds)
                    self._send(200, completion_body(server.answers[0]))
                elif behaviour in ("500-echo", "401-echo"):
                    echoed = json.dumps(
                        {
                            "error": {
                                "message": "upstream rejected request with header "
                                f"Authorization: {self.headers.get('Authorization')}"
                            }
                        }
                    )
                    self._send(int(behaviour[:3]), echoed.encode())
                elif behaviour == "200-echo":  # a proxy that repeats the headers in an answer
                    answer = f"{server.answers[0]} (sent with Authorization: "
                    answer += f"{self.headers.get('Authorization')})"
                    self._send(200, completion_body(answer))
                elif behaviour == "malformed":
                    self._send(200, b"this is not json {")
                else:
                    self._send(200, completion_body(server.answers.pop(0)))

            def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the hang case)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultyLLMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
