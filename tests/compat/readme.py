#!/usr/bin/env python3
"""README test: runs the commands of README.md as written, in order, in one
bash session, against sealq on localhost:9324 (the address README uses).

Usage: python3 tests/compat/readme.py [--binary target/debug/sealq] [--readme README.md]
Needs the venvs of tests/compat/setup.sh and curl; builds nothing; standard
library only. Prints PASS/FAIL per command, then `N passed, M failed`;
exits 1 on any failure, or when port 9324 is taken.

What runs, by the fence's info string (its first word is the language, which
is all a Markdown viewer shows):
- ```sh: every command runs in one bash session (exports and shell variables
  carry over, as in a terminal) and must exit 0. In a block with `$ ` prompts
  the lines after a command, up to the next prompt, are its output: JSON must
  have the same shape (keys, list lengths, types; strings equal once ids,
  times, timestamps and random blobs are masked), other text the same lines
  (masked alike). An output that is an error (a line starting
  `An error occurred (`, or `sealq` and a colon) means the command must fail
  and print that on stderr. No output shown means none printed on stdout.
- ```sh excerpt: as above, but the shown lines must appear in that order
  among the real ones, with numbers masked too (e.g. metrics).
- ```sh server: a command that runs a server in the foreground. The test
  stops the server it started before (if any), starts this one in the
  background and waits until it answers GET /_sealq/health with 200.
- ```sh skip-test: not run (builds, the full test suite).
- ```sh docker, ```python docker: not run here; the container tests
  (tests/container) run them on a Docker engine.
- ```python: runs with the venv's python3 and must exit 0.
Any other block (```text, ```toml, ```rust, ```json) is not run. Before a block
that starts `sealq serve` itself (e.g. in the background), the server the test
started is stopped; whatever the session left running is ended at the end.

`sealq` is the binary under test, on PATH from a temporary directory (as after
`cargo install`), and so is `./target/release/sealq` in the working
directory, a temporary directory that links the repository's files, so
commands that write files (e.g. `--data-dir ./sealq-data`) leave the clone
alone. The AWS CLI is .venv/compat-json's; AWS_* variables of the caller's
environment are dropped, so only README's own exports count.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, clean_env, counts, report  # noqa: E402  (the compat suite's helpers)

PORT = 9324
STEP_TIMEOUT = 60  # seconds for one command; `sealq health --wait 30` fits
ERROR_START = re.compile(r"^(An error occurred \(|sealq[\w ]*: )")

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
LONG_NUMBER = re.compile(r"\d{10,}")  # epoch milliseconds, in text and in string attributes
NUMBER = re.compile(r"\d+(\.\d+)?(e-?\d+)?")
BLOB = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")  # base64: ciphertexts, nonces, receipt handles


def mask(text, numbers=False):
    text = UUID.sub("<uuid>", text)
    text = ISO_TIME.sub("<time>", text)
    text = LONG_NUMBER.sub("<n>", text)
    if numbers:
        text = NUMBER.sub("<n>", text)
    return text


def mask_string(s):
    """A JSON string value: random blobs (not lowercase hex like an MD5) are masked whole."""
    if BLOB.fullmatch(s) and not re.fullmatch(r"[0-9a-f]+", s) and not UUID.search(s):
        return "<blob>"
    return mask(s)


# --- README parsing --------------------------------------------------------


class Block:
    def __init__(self, lang, attrs, line, lines):
        self.lang, self.attrs, self.line, self.lines = lang, attrs, line, lines


class Step:
    """One command; `output` is the shown output (a list of lines), or None
    when the block shows none (a block without `$ ` prompts)."""

    def __init__(self, line, command, output):
        self.line, self.command, self.output = line, command, output


def blocks(text):
    out, fence = [], None
    for n, raw in enumerate(text.splitlines(), 1):
        if fence is None:
            m = re.match(r"^```(\S*)\s*(.*)$", raw)
            if m:
                fence = Block(m.group(1), m.group(2).split(), n, [])
        elif raw.strip() == "```":
            out.append(fence)
            fence = None
        else:
            fence.lines.append((n, raw))
    return out


def logical_lines(lines):
    """Joins lines ending in a backslash with the next ones: (line number, text)."""
    out, i = [], 0
    while i < len(lines):
        n, text = lines[i]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text += "\n" + lines[i][1]
        out.append((n, text))
        i += 1
    return out


def steps(block):
    lines = block.lines
    if not any(t.startswith("$ ") for _, t in lines):
        return [Step(n, t, None) for n, t in logical_lines(lines) if t.strip() and not t.lstrip().startswith("#")]
    result, i = [], 0
    while i < len(lines):
        n, text = lines[i]
        if not text.startswith("$ "):
            raise ValueError(f"README.md:{n}: output before the first `$ ` prompt")
        command = text[2:]
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command += "\n" + lines[i][1]
        i += 1
        output = []
        while i < len(lines) and not lines[i][1].startswith("$ "):
            output.append(lines[i][1])
            i += 1
        result.append(Step(n, command, output))
    return result


# --- comparing output ------------------------------------------------------


def json_shape_diff(want, got, path="$"):
    """None when `got` has the shape of `want`, else where and how it differs."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{path}: want an object, got {json.dumps(got)[:80]}"
        if set(want) != set(got):
            return f"{path}: keys {sorted(got)}, want {sorted(want)}"
        for k in want:
            d = json_shape_diff(want[k], got[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{path}: want a list of {len(want)}, got {json.dumps(got)[:200]}"
        for i, (w, g) in enumerate(zip(want, got)):
            d = json_shape_diff(w, g, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(want, bool) or want is None:
        return None if got is want else f"{path}: {json.dumps(got)}, want {json.dumps(want)}"
    if isinstance(want, (int, float)):
        ok = isinstance(got, (int, float)) and not isinstance(got, bool)
        return None if ok else f"{path}: {json.dumps(got)}, want a number"
    if isinstance(want, str):
        if isinstance(got, str) and mask_string(got) == mask_string(want):
            return None
        return f"{path}: {json.dumps(got)}, want {json.dumps(want)}"
    return f"{path}: unexpected {want!r}"


def parse_json(text):
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def output_diff(shown, actual, excerpt):
    """None when `actual` (what the command printed) matches `shown` (README's lines)."""
    want = "\n".join(shown).strip()
    got = actual.strip()
    if not want:
        return None if not got else f"printed output where README shows none:\n{got[:1500]}"
    want_json = parse_json(want)
    if want_json is not None:
        got_json = parse_json(got)
        if got_json is None:
            return f"README shows JSON, the command printed:\n{got[:1500]}"
        return json_shape_diff(want_json, got_json)
    want_lines = [mask(line, excerpt) for line in want.splitlines()]
    got_lines = [mask(line, excerpt) for line in got.splitlines()]
    if not excerpt:
        if want_lines == got_lines:
            return None
        for i, (w, g) in enumerate(zip(want_lines, got_lines)):
            if w != g:
                return f"line {i + 1}: {g!r}, want {w!r}"
        return f"{len(got_lines)} lines, want {len(want_lines)}:\n{got[:1500]}"
    i = 0
    for g in got_lines:
        if i < len(want_lines) and g == want_lines[i]:
            i += 1
    if i == len(want_lines):
        return None
    return f"README's line {want_lines[i]!r} (or the ones after it) is not in the output:\n{got[:3000]}"


# --- the shell session and the servers -------------------------------------


def port_in_use():
    """True when sealq could not bind 0.0.0.0:PORT (it sets SO_REUSEADDR, as here)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", PORT))
        except OSError:
            return True
    return False


def wait_port_free(seconds=15):
    deadline = time.monotonic() + seconds
    while port_in_use():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_group(proc, grace=10):
    """Ends the process group this test started `proc` in (its own session)."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


class Shell:
    """One bash session fed one command at a time on stdin; each command's
    stdout, stderr and exit status go to files. A command that does not
    finish in time ends the session, and a new one goes on (without the
    variables set before)."""

    def __init__(self, cwd, env, tmp):
        self.cwd, self.env, self.tmp, self.n = cwd, env, tmp, 0
        self.log = open(os.path.join(tmp, "shell.log"), "wb")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=self.cwd, env=self.env, stdin=subprocess.PIPE,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.proc.stdin.write(b"set -o pipefail\n")
        self.proc.stdin.flush()

    def restart(self):
        self.end()
        self.start()

    def run(self, command, timeout=STEP_TIMEOUT):
        """(exit status or None when it did not finish, stdout, stderr)."""
        # A syntax error (say, an unclosed quote) would leave the session waiting for more input.
        check = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            return None, "", f"not valid shell: {check.stderr.strip()}"
        if self.proc.poll() is not None:
            self.restart()
        self.n += 1
        base = os.path.join(self.tmp, f"step{self.n}")
        script = f"{{\n{command}\n}} >{base}.out 2>{base}.err </dev/null; echo $? >{base}.rc.tmp; mv {base}.rc.tmp {base}.rc\n"
        try:
            self.proc.stdin.write(script.encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            return None, "", "the shell session has ended"
        deadline = time.monotonic() + timeout
        while not os.path.exists(base + ".rc"):
            if self.proc.poll() is not None:
                return None, "", f"the shell session ended (exit {self.proc.returncode}); a new one goes on"
            if time.monotonic() > deadline:
                self.restart()
                return None, self.read(base + ".out"), self.read(base + ".err") + f"\n(no exit within {timeout} s; a new shell session goes on)"
            time.sleep(0.02)
        return int(self.read(base + ".rc").strip() or "-1"), self.read(base + ".out"), self.read(base + ".err")

    @staticmethod
    def read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def end(self):
        """Ends the session and all it left running (e.g. a server started with `&`)."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        stop_group(self.proc)

    def close(self):
        self.end()
        self.log.close()


class Servers:
    """The foreground servers of ```sh server blocks, run in the background."""

    def __init__(self, cwd, env, log):
        self.cwd, self.env, self.log, self.proc = cwd, env, log, None

    def start(self, command):
        """None when the server answers health 200, else why not."""
        self.stop()
        if not wait_port_free():
            return f"port {PORT} is still taken after stopping the previous server"
        self.proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with {self.proc.returncode}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/_sealq/health", timeout=2) as r:
                    if r.status == 200:
                        return None
            except OSError:
                pass
            time.sleep(0.1)
        return "no health 200 within 30 s"

    def stop(self):
        stop_group(self.proc)
        self.proc = None


# --- running README --------------------------------------------------------


def first_line(command):
    line = command.splitlines()[0]
    return line if len(line) <= 90 else line[:87] + "..."


def run_readme(readme, shell, servers, tmp):
    with open(readme) as f:
        text = f.read()
    name = os.path.basename(readme)
    for block in blocks(text):
        where = f"{name}:{block.line}"
        if block.lang not in ("sh", "python"):
            continue
        if "skip-test" in block.attrs:
            print(f"SKIP {where} (skip-test): {first_line(block.lines[0][1]) if block.lines else ''}", flush=True)
            continue
        if "docker" in block.attrs:
            print(f"SKIP {where} (docker: run by the container tests): {first_line(block.lines[0][1]) if block.lines else ''}", flush=True)
            continue
        if block.lang == "python":
            path = os.path.join(tmp, f"block{block.line}.py")
            with open(path, "w") as f:
                f.write("\n".join(t for _, t in block.lines) + "\n")
            rc, out, err = shell.run(f"python3 {path}")
            report(rc == 0, f"{where} python block", f"exit {rc}\n{err[-2000:]}")
            continue
        try:
            block_steps = steps(block)
        except ValueError as e:
            report(False, where, str(e))
            continue
        if "server" in block.attrs:
            for step in block_steps:
                why = servers.start(step.command)
                report(why is None, f"{name}:{step.line}: {first_line(step.command)} (started in the background)", why)
            continue
        if any(re.search(r"\bsealq\b[^\n|;&]*\bserve\b", s.command) for s in block_steps):
            servers.stop()  # the block starts its own server on the port
            if not wait_port_free():
                report(False, where, f"port {PORT} still taken after stopping the test's server")
                continue
        excerpt = "excerpt" in block.attrs
        for step in block_steps:
            rc, out, err = shell.run(step.command)
            label = f"{name}:{step.line}: {first_line(step.command)}"
            if rc is None:
                report(False, label, err.strip()[-2000:])
                continue
            shown = step.output or []
            shown_text = "\n".join(shown).strip()
            if shown_text and ERROR_START.match(shown_text):
                why = None
                if rc == 0:
                    why = f"exit 0, README shows an error; stdout:\n{out[-1500:]}"
                else:
                    d = output_diff(shown, err, excerpt)
                    why = f"stderr differs: {d}" if d else None
                report(why is None, label + " (fails as shown)", why)
                continue
            if rc != 0:
                report(False, label, f"exit {rc}\nstdout: {out[-1500:]}\nstderr: {err[-1500:]}")
                continue
            d = output_diff(shown, out, excerpt) if step.output is not None else None
            report(d is None, label, d)


def main():
    # Killed (e.g. CI's time limit): still stop the servers and the session it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "sealq"))
    parser.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    aws_bin = os.path.join(ROOT, ".venv", "compat-json", "bin")

    problems = []
    if not os.access(binary, os.X_OK):
        problems.append(f"no executable at {binary} (run cargo build)")
    if not os.access(os.path.join(aws_bin, "aws"), os.X_OK):
        problems.append(f"no AWS CLI in {aws_bin} (run bash tests/compat/setup.sh)")
    for tool in ("bash", "curl"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} is not installed (README's commands use it)")
    if port_in_use():
        problems.append(f"port {PORT} is in use: README's commands talk to localhost:{PORT}; stop what listens there")
    if problems:
        for p in problems:
            report(False, "README test can start", p)
        print(f"{counts['passed']} passed, {counts['failed']} failed", flush=True)
        return 1

    with tempfile.TemporaryDirectory(prefix="sealq-readme-") as tmp:
        bindir = os.path.join(tmp, "bin")
        work = os.path.join(tmp, "work")
        os.makedirs(bindir)
        os.makedirs(os.path.join(work, "target", "release"))
        os.symlink(binary, os.path.join(bindir, "sealq"))  # as after `cargo install`
        os.symlink(binary, os.path.join(work, "target", "release", "sealq"))  # as after `cargo build --release`
        for entry in os.listdir(ROOT):
            if entry not in ("target", ".git"):
                os.symlink(os.path.join(ROOT, entry), os.path.join(work, entry))

        env = clean_env(tmp)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            env.pop(k)  # README exports its own
        env = {k: v for k, v in env.items() if not k.startswith("SEALQ_")}
        env["PATH"] = os.pathsep.join([bindir, aws_bin, os.environ.get("PATH", "/usr/bin:/bin")])
        env["HOME"] = os.path.join(tmp, "home")
        os.makedirs(env["HOME"])

        log_path = os.path.join(tmp, "server.log")
        with open(log_path, "wb") as log:
            shell = Shell(work, env, tmp)
            servers = Servers(work, env, log)
            try:
                run_readme(os.path.abspath(args.readme), shell, servers, tmp)
            finally:
                servers.stop()
                shell.close()
        if counts["failed"]:
            with open(log_path, errors="replace") as f:
                tail = "".join(f.readlines()[-40:])
            if tail:
                print("--- server log (last 40 lines) ---\n" + tail, end="")
    print(f"{counts['passed']} passed, {counts['failed']} failed", flush=True)
    return 1 if counts["failed"] or not counts["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
