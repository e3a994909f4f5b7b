"""The ``gankit`` command: parse, validate, call the library; nothing else.

Every user error ends as one line ``gankit: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .errors import GankitError, one_line

DEFAULT_PRESET = "digits"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="gankit")
def cli() -> None:
    """gankit: generative adversarial networks whose theory you can check."""


def _import_plugins(ctx: click.Context, param: click.Parameter, modules: tuple[str, ...]) -> tuple[str, ...]:
    """--import MODULE, imported as soon as it is parsed (before any name it registers is looked up)."""
    from .registry import import_plugin

    for m in modules:
        import_plugin(m)
    ctx.meta.setdefault("gankit.plugins", []).extend(modules)
    return modules


plugins_option = click.option(
    "--import",
    "plugins",
    multiple=True,
    metavar="MODULE",
    is_eager=True,
    expose_value=False,
    callback=_import_plugins,
    help="Import a module of yours that registers networks, datasets or objectives (repeatable).",
)

# sample, eval and export choose between a run's two generators the same way.
generator_option = click.option(
    "--generator",
    type=click.Choice(["ema", "raw"]),
    default=None,
    help="The EMA copy of G (default, when the run keeps one) or the raw G.",
)


def _plugins() -> list[str]:
    """The --import modules of this command."""
    return list(click.get_current_context().meta.get("gankit.plugins", []))


def _new_run_dir(out: str | None, name: str) -> Path:
    """``--out`` if it is free, else the first free ``runs/NAME[-k]``, claimed by creating it (an atomic
    mkdir: two commands started together take different numbers); never reuse a run."""
    from .files import check_new_run_dir

    if out is not None:
        return check_new_run_dir(out)  # checked again under the run's lock when training starts
    base = Path("runs") / name
    base.parent.mkdir(parents=True, exist_ok=True)
    k = 1
    while True:
        p = base if k == 1 else base.with_name(f"{name}-{k}")
        try:
            p.mkdir()
            return p
        except FileExistsError:
            k += 1


@cli.command()
@click.option("--preset", help=f"A shipped preset (default {DEFAULT_PRESET}); see `gankit presets`.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="A YAML config file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a field, e.g. train.steps=500.")
@click.option("--out", help="Run directory (default runs/NAME, numbered if taken).")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@plugins_option
def train(preset, config_file, overrides, out, dry_run) -> None:
    """Train a GAN and write a run directory."""
    from .config import check_unique_overrides, config_yaml, load_config

    check_unique_overrides(list(overrides))
    if preset is None and config_file is None:
        preset = DEFAULT_PRESET
    cfg = load_config(preset, config_file, list(overrides))
    if _plugins():  # recorded in config.yaml: opening the run later says which --import it needs
        cfg = cfg.model_copy(update={"plugins": sorted({*cfg.plugins, *_plugins()})})
    if dry_run:
        click.echo(config_yaml(cfg), nl=False)
        return
    name = preset or Path(config_file).stem
    from . import distributed
    from .training import train as run_training

    W = _join(cfg)
    # under torchrun, rank 0 picks the run directory (or the error) and every process uses its choice
    choice: str | GankitError | None = None
    if W.main:
        try:
            choice = str(_new_run_dir(out, name))
        except GankitError as e:
            choice = e
    choice = distributed.broadcast_object(choice)
    if isinstance(choice, GankitError):
        raise choice
    run_dir = Path(choice)
    _finish(run_training(cfg, run_dir), run_dir)


def _join(cfg):
    """Join torchrun's process group when there is one (NCCL for CUDA runs, else gloo)."""
    import torch

    from . import distributed

    return distributed.init(use_cuda=cfg.train.device != "cpu" and torch.cuda.is_available())


def _finish(result, run_dir: Path) -> None:
    """Write the run's HTML report and say how it ended (rank 0 speaks for every process); a stop by
    signal exits 128 + its number (130 for SIGINT)."""
    from . import distributed
    from .config import describe_ema
    from .report import write_report

    if distributed.world().main:
        if result.stopped is not None:  # said first: a second signal during the report must not swallow it
            _say(
                f"gankit: stopped at step {result.step} ({result.stopped}); checkpoint written; "
                f"continue with: gankit resume {run_dir}"
            )
        try:
            page = write_report([run_dir])
            _say(f"report: {page}")
        except (GankitError, OSError, ValueError) as e:  # the run is saved; a report problem must not hide that
            _say(f"gankit: warning: no report written: {str(e).splitlines()[0] if str(e) else e}")
        if result.stopped is None:
            # the losses and metrics; rates and times are in metrics.jsonl (and said by the wall time below)
            shown = {k: v for k, v in result.stats.items() if not k.startswith(("lr/", "time/"))}
            summary = ", ".join(f"{k} {v:.4g}" for k, v in shown.items())
            t = result.config.train
            who = describe_ema(t.ema_kimg, t.ema_rampup)
            if any(k.startswith("eval/") for k in result.stats):  # every metric names its sample count
                summary += f" (image metrics on {t.eval_samples} samples of {who}, {t.eval_features} features)"
            elif "toy/modes" in result.stats:
                summary += f" (JSD of {who} by exact densities, mode statistics on {t.eval_samples} samples)"
            if "time/wall_s" in result.stats:
                summary += f"; trained for {result.stats['time/wall_s']:.0f} s"
            click.echo(f"run written to {run_dir}: {summary}")
    if result.stopped in ("SIGINT", "SIGTERM"):
        import signal

        sys.exit(128 + int(signal.Signals[result.stopped]))


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=None,
    help="New total number of steps (default: the run's train.steps).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="train.KEY=VALUE",
    help="Change a train.* field, e.g. train.batch_size when the number of processes changes.",
)
@plugins_option
def resume(run_dir, steps, overrides) -> None:
    """Continue an interrupted run from its last checkpoint, exactly where it stopped.

    Networks, EMA, optimisers, LR schedules, step and RNG states (so data order and augmentation)
    are restored: on the CPU, a run stopped and resumed ends bit-identical to one never stopped.
    """
    from .config import check_unique_overrides, load_config
    from .training import train as run_training

    check_unique_overrides(list(overrides))
    run = Path(run_dir)
    if not run.is_dir():
        raise GankitError(f"run directory not found: {run}")
    bad = [o for o in overrides if not o.startswith("train.")]
    if bad:
        raise GankitError(
            f"resume --set changes train.* fields only (data, model and objective are the checkpoint's), got {bad[0]!r}"
        )
    if steps is not None and any(o.split("=", 1)[0].strip() == "train.steps" for o in overrides):
        raise GankitError("give --steps or --set train.steps, not both")
    extra = [f"train.steps={steps}"] if steps is not None else []
    cfg = load_config(None, str(run / "config.yaml"), [*overrides, *extra])
    _join(cfg)
    _finish(run_training(cfg, run, resume=True), run)  # it says where it resumes from, once the checkpoint is read


@cli.command()
@click.argument("run_dir", metavar="RUN_DIR|CHECKPOINT", type=click.Path())
@click.option("--n", "n", type=click.IntRange(min=1), default=64, show_default=True, help="Number of samples.")
@click.option("--out", required=True, help="Output file: .npy (an array) or .png (a grid or plot).")
@click.option(
    "--seed",
    type=click.IntRange(0, 2**64 - 1),
    default=0,
    show_default=True,
    help="Noise seed (0 to 2^64 − 1): same seed, same samples.",
)
@click.option("--class", "klass", type=int, default=None, help="Class to draw (class-conditional runs).")
@click.option(
    "--truncation",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Draw z from N(0, I) truncated to |z| ≤ T (the truncation trick; any T > 0).",
)
@generator_option
@plugins_option
def sample(run_dir, n, out, seed, klass, truncation, generator) -> None:
    """Draw samples from a trained run's generator (its EMA copy when there is one, unless --generator raw).

    RUN_DIR|CHECKPOINT: a run directory (its last checkpoint) or a checkpoint file in one
    (RUN_DIR/checkpoints/step_NNNNNN.pt). Toy runs: .npy float32 [N, dims] or a .png plot. Image runs:
    .npy uint8 [N, C, H, W] or a .png grid.
    """
    from .runs import load_generator, write_samples

    suffix = Path(out).suffix.lower()
    if suffix not in (".npy", ".png"):
        raise GankitError(f"--out must end in .npy or .png, got {out!r}")
    G, cfg, n_cls, _ = load_generator(run_dir, generator=generator or "auto")
    write_samples(G, cfg, n_cls, n, seed, Path(out), klass, truncation)
    click.echo(f"{n} samples written to {out}")


@cli.command("eval")
@click.argument("run_dir", type=click.Path())
@click.option(
    "--n",
    "n",
    type=click.IntRange(min=1),
    default=None,
    help="Samples to draw (default: as many as the held-out real images, at most 10,000; images: at least 10).",
)
@click.option(
    "--features",
    default="classifier",
    show_default=True,
    help="Feature network: classifier (trained here, offline) or inception (the standard FID network).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="Inception-v3 weights file (torch-fidelity's weights-inception-2015-12-05-6726825d.pth).",
)
@click.option("--download", is_flag=True, help="Download the Inception weights if they are not found locally.")
@generator_option
@plugins_option
def eval_(run_dir, n, features, as_json, inception_weights, download, generator) -> None:
    """Measure a run's generator: FID, KID, IS, precision/recall, density/coverage, each with its floor.

    The floor is the same metric for held-out real images (the test split, or half of the data):
    what a perfect generator would read. Also written to RUN_DIR/eval.json.
    """
    from .features import FEATURES
    from .runs import evaluate_run

    FEATURES[features]  # an unknown name fails here, before any work: the registry's one-line error
    kwargs = {"weights": inception_weights, "download": download} if features == "inception" else {}
    out = evaluate_run(run_dir, n, features, log=lambda s: _say(f"eval: {s}"), generator=generator or "auto", **kwargs)
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(f"{run_dir}: {out['n']} samples of {out['generator']} at step {out['step']}; reference {out['split']}")
    click.echo(f"features: {out['features_info']}")
    click.echo(f"{'metric':<11}{'value':>12}{'floor':>12}  better")
    for k, m in out["metrics"].items():  # a value is null where it is undefined (no high-quality sample)
        value = "–" if m["value"] is None else f"{m['value']:12.4g}"
        floor = "" if m["floor"] is None else f"{m['floor']:12.4g}"
        click.echo(f"{k:<11}{value:>12}{floor:>12}  {m['better']}")


@cli.command()
@click.option("--out", default="runs/theory", show_default=True, help="Folder for the figures.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON list.")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Add the instability rows: saturation stalling minimax, the Dirac-GAN, mode collapse (about 2 minutes more).",
)
def theory(out, as_json, everything) -> None:
    """Check the claims of Goodfellow et al. (2014) numerically; exit 1 if one fails."""
    from .theory import claims_json, format_table, run_claims
    from .files import check_writable

    check_writable(out)  # before minutes of computing, not after
    rows = run_claims(out, log=lambda s: _say(f"theory: {s}"), instability=everything)
    Path(out, "claims.json").write_text(json.dumps(claims_json(rows), indent=1))
    from .report import write_report

    write_report([out])  # OUT/report.html: the claims table and the figures on one page
    if as_json:
        click.echo(json.dumps(claims_json(rows), indent=1))
    else:
        click.echo(format_table(rows))
        figs = ["figure1.png", "curves.png"] + (["stall.png", "dirac.png", "modes.png"] if everything else [])
        click.echo(f"figures: {', '.join(str(Path(out) / f) for f in figs)}; report: {Path(out) / 'report.html'}")
    failed = [r for r in rows if not r.passed]
    if failed:
        _say(f"theory: {len(failed)} of {len(rows)} claims failed")
        sys.exit(1)


@cli.command()
@click.argument("run_dir", required=False, type=click.Path())
@click.option("--preset", default="ring8", show_default=True, help="A toy preset to play (without RUN_DIR).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a field of the preset.")
@click.option("--out", help="Run directory for the game's checkpoint (written on request and at Ctrl-C).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; elsewhere than loopback needs the printed token.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
def live(run_dir, preset, overrides, out, host, port) -> None:
    """Watch a GAN train in the browser: a toy preset played live, or RUN_DIR followed as it trains."""
    from .config import check_unique_overrides
    from .live import live_config, serve_game, serve_run

    if run_dir is not None:
        if overrides or out:
            raise GankitError("gankit live RUN_DIR follows a run: --set and --out are for a live game (--preset)")
        serve_run(Path(run_dir), host, port, _say)
        return
    from .files import check_new_run_dir

    check_unique_overrides(list(overrides))
    cfg = live_config(preset, list(overrides))
    serve_game(cfg, check_new_run_dir(out) if out else None, host, port, _say)


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option(
    "--out", default=None, help="Output .html file (default RUN_DIR/report.html; several runs: FIRST_RUN/compare.html)."
)
@plugins_option
def report(run_dirs, out) -> None:
    """Write one self-contained HTML page about a run (or compare several runs, or a theory folder).

    Config, loss and D(x) curves, V(D, G) against −log 4, sample grids over time, the eval.json metric
    table with floors; toy runs add JSD and mode coverage. Images are embedded: it opens offline.
    """
    from .report import write_report

    click.echo(f"report written to {write_report(list(run_dirs), out)}")


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["safetensors", "onnx", "torchscript"]),  # gankit.export.FORMATS, which imports torch
    required=True,
    help="safetensors (weights and what rebuilds G), onnx (dynamic batch) or torchscript (traced).",
)
@click.option(
    "--out", default=None, help="Output file (default RUN_DIR/export/generator.EXT, EXT the format's suffix)."
)
@generator_option
@click.argument("run_dir", metavar="RUN_DIR|CHECKPOINT", type=click.Path())
@plugins_option
def export(run_dir, fmt, out, generator) -> None:
    """Export a run's generator (its EMA copy when there is one) for use outside gankit.

    The file maps z [B, z_dim] (and y [B], class indices, for a class-conditional run) to G's images
    in [-1, 1] (toy runs: points). Needs `pip install 'gankit[export]'` for safetensors and onnx.
    """
    from .export import export_generator

    click.echo(export_generator(run_dir, fmt, out, generator or "auto").describe())


@cli.command("runs")
@click.argument("folder", default="runs", type=click.Path())
@plugins_option
def runs_(folder) -> None:
    """List the runs in FOLDER (default runs): preset, steps done, status, last metrics, start, wall time."""
    from .runs import format_runs, summarize_runs

    rows = summarize_runs(folder)
    if not rows:
        click.echo(f"no runs in {folder}")
        return
    click.echo(format_runs(rows))


def _preset_summary(name: str, limit: int = 100) -> str:
    """The first sentence of a preset's leading comment (the presets describe themselves at the top of
    their YAML; ``et al.`` and ``e.g.`` end no sentence), cut when longer than ``limit`` characters at
    the last clause boundary outside parentheses, so the line still reads as a phrase."""
    import re
    from importlib import resources

    text = (resources.files("gankit.presets") / f"{name}.yaml").read_text(encoding="utf-8")
    comment = ""
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        part = line.lstrip("#").strip()
        comment += part if comment.endswith("-") else f" {part}"  # "class-" + "conditional" is one word
    first = re.split(r"(?<!\bal)(?<!e\.g)(?<!i\.e)\.\s", comment.strip(), maxsplit=1)[0].rstrip(".")
    if len(first) <= limit:
        return first
    depth, cut = 0, 0
    for i, c in enumerate(first[:limit]):
        depth += (c == "(") - (c == ")")
        if depth == 0 and first[i : i + 2] in (", ", "; ", ": ", " ("):
            cut = i
    return first[:cut] if cut else first[:limit].rsplit(" ", 1)[0] + " …"


@cli.command()
def presets() -> None:
    """List the shipped presets, each with a line on what it trains."""
    from .config import preset_names

    names = preset_names()
    width = max(map(len, names))
    for name in names:
        click.echo(f"{name:<{width}}  {_preset_summary(name)}".rstrip())


def _leave() -> None:
    """Leave torchrun's process group if this command joined one."""
    if "gankit.distributed" in sys.modules:
        sys.modules["gankit.distributed"].shutdown()


def _say(line: str) -> None:
    """A line on stderr for the user; a stderr that cannot be written (a closed pipe, a full disk) must
    not turn a good run into a failed one, so the line is then dropped."""
    try:
        click.echo(line, err=True)
    except OSError:
        pass


def _error(message: str) -> None:
    """One line on stderr: ``gankit: error: ...``, with line breaks and other control characters the
    user typed (in an argument or a path, say) shown escaped so they cannot split or garble it."""
    _say(f"gankit: error: {one_line(message.strip())}")


def _interrupted(e: BaseException | None) -> None:
    """Exit as a process stopped by the signal would (128 + its number): a second SIGINT/SIGTERM during
    training (StopNow, which carries the signal), or Ctrl-C (SIGINT) anywhere."""
    import signal

    signum = getattr(e, "signum", signal.SIGINT)
    _say(f"gankit: interrupted ({signal.Signals(signum).name}); checkpoints already written are kept")
    sys.exit(128 + int(signum))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command; user errors become one line and exit status 2."""
    try:
        rv = cli.main(args=argv, prog_name="gankit", standalone_mode=False)
        _leave()
    except GankitError as e:
        _error(str(e))
        sys.exit(e.exit_code)
    except click.exceptions.NoArgsIsHelpError as e:  # bare `gankit` (or a bare group): the help, not an error
        click.echo(e.format_message())
        sys.exit(0)
    except click.exceptions.Abort as e:  # click turns a KeyboardInterrupt (StopNow included) into Abort
        _interrupted(e.__cause__ or e.__context__)
    except click.ClickException as e:
        _error(e.format_message())
        sys.exit(e.exit_code)
    except KeyboardInterrupt as e:
        _interrupted(e)
    except BrokenPipeError:  # whoever read our output went away (`| head`): the work itself is done
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        sys.exit(0)
    except Exception as e:  # a file gankit reads or writes (permissions, a full disk), or memory
        from .memory import describe_error, is_out_of_memory

        if isinstance(e, ValueError) and "null byte" in str(e):  # the OS cannot name such a file
            _error("a path given contains a NUL character")
            sys.exit(2)
        if not (isinstance(e, OSError) or is_out_of_memory(e)):
            raise  # a bug: its traceback is the report
        _error(describe_error(e))
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)
