"""Benchmark: how long `replies` takes to start, against importing the two libraries every command needs.

Times, in one run and interleaved (so a busy machine slows all of them alike), the wall-clock time of:
- the baseline: `python -c "import click, sqlite_utils"`;
- `replies --help`;
- `replies threads` on a small database (the sample thread, harvested from the emulator first);
- `replies config`;
each R times (median and p90), from a folder outside the checkout, with the Python of the environment that
runs this script. Reports each command's median as a ratio of the baseline's (the target: 1.3 or less), and
the heavy libraries each command loaded beyond those the baseline loads (in an environment with pandas,
sqlite-utils itself loads pandas, numpy and pyarrow). Modules are compiled once, as pip does for an installed
wheel (PYTHONDONTWRITEBYTECODE is unset for the commands timed).

    .venv/bin/python scripts/bench_startup.py [--runs 15] [--hide pandas]

`--hide pandas` times an environment without pandas (a user's, where nothing installed it): the project's test
extras bring it, and sqlite-utils imports it when it is there, which makes the baseline three times as slow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("numpy", "httpx", "httpcore", "tweepy", "requests", "bs4", "torch", "transformers", "flask", "pyarrow",
         "networkx", "sklearn", "onnxruntime", "yaml", "tenacity")


def small_database(folder: Path) -> Path:
    """The sample thread on Mastodon, harvested from the emulator into a new database."""
    from replies import db, platforms
    from replies.emulator import Emulator, World
    from replies.emulator.sample import load_sample, post_url
    from replies.harvester.run import harvest
    from replies.harvester.settings import Settings

    world = World()
    roots = load_sample(world)
    path = folder / "small.db"
    with Emulator(world, x_tokens=["test-token"]) as emulator:
        settings = Settings.from_env(platforms.emulator_environment(emulator.base_url))
        harvest(db.open_db(path), post_url(emulator, roots["mastodon"]), settings)
    return path


def timed(command: list[str], cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def imported(args: list[str] | None, cwd: Path, env: dict) -> set[str]:
    """The heavy libraries `replies ARGS` (None: the baseline's imports alone) loads, read from the process
    itself as it exits (a module bound lazily and never used does not count)."""
    probe = ("import atexit, sys\n"
             "loaded = lambda: {n for n, m in sys.modules.items() if m is not None and "
             "type(m).__name__ != '_LazyModule'}\n"
             f"atexit.register(lambda: sys.stderr.write('IMPORTED ' + ' '.join(sorted(set({HEAVY!r}) & "
             "loaded())) + '\\n'))\n"
             "import click, sqlite_utils\n" +
             ("" if args is None else f"from replies.cli import main\nmain({args!r})\n"))
    out = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True)
    line = next((line for line in out.stderr.splitlines() if line.startswith("IMPORTED")), "IMPORTED ?")
    return set(line.split()[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--hide", action="append", default=[], metavar="MODULE",
                        help="make MODULE fail to import in every command timed (baseline included)")
    options = parser.parse_args()
    replies = str(Path(sys.executable).with_name("replies"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = small_database(folder)
        # as an installed wheel runs: pip compiles its modules once, so no command compiles them again
        env = {**os.environ, "XDG_CONFIG_HOME": str(folder / "config"), "REPLIES_DB": str(database)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if options.hide:
            hidden = folder / "hidden"
            for name in options.hide:
                (hidden / name).mkdir(parents=True)
                (hidden / name / "__init__.py").write_text(f"raise ImportError('{name} hidden by bench_startup')\n")
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hidden), env.get("PYTHONPATH")]))
        commands = {
            "import click, sqlite_utils": [sys.executable, "-c", "import click, sqlite_utils"],
            "replies --help": [replies, "--help"],
            "replies threads": [replies, "threads"],
            "replies config": [replies, "config"],
        }
        for command in commands.values():  # warm the file cache
            timed(command, folder, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(options.runs):
            for name, command in commands.items():
                times[name].append(timed(command, folder, env))
        base = statistics.median(times["import click, sqlite_utils"])
        already = imported(None, folder, env)
        hidden = f", {', '.join(options.hide)} hidden" if options.hide else ""
        print(f"Python {sys.version.split()[0]}, {options.runs} runs each, interleaved{hidden}\n")
        print(f"{'command':<28} {'median':>8} {'p90':>8} {'ratio':>6}  heavy libraries imported")
        for name, values in times.items():
            p90 = statistics.quantiles(values, n=10)[-1]
            heavy = (f"(the baseline's own: {' '.join(sorted(already)) or 'none'})" if name.startswith("import") else
                     " ".join(sorted(imported(commands[name][1:], folder, env) - already)) or "none")
            print(f"{name:<28} {statistics.median(values):>7.3f}s {p90:>7.3f}s {statistics.median(values) / base:>6.2f}"
                  f"  {heavy}")


if __name__ == "__main__":
    main()
