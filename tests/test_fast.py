"""The GPU fast path's parts (gankit.fast), checked on the CPU; the CUDA-graph tests run only with a GPU."""

import inspect
import math

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gankit.config import load_config
from gankit.ema import ema_update
from gankit.fast import load_optimizer, lr_to_floats, lr_to_tensors
from gankit.stats import StepSums
from gankit.nets.layers import maybe_sn
from gankit.stats import read_jsonl
from gankit.training import train
from gankit.training.session import nonfinite

QUIET = ["train.progress=false", "train.tensorboard=false"]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _net():
    torch.manual_seed(0)
    return nn.Sequential(maybe_sn(nn.Conv2d(3, 4, 3), True), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 3))


def test_ema_update_is_averaged_models_update_value_for_value():
    """Parameters and batch-norm statistics (float and integer) match AveragedModel's EMA after each of
    several updates, the first being a copy; spectral norm's u and v are G's own (copied, not averaged:
    see gankit.ema.ema_update)."""
    model = _net()
    ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    ours = AveragedModel(model, use_buffers=True)
    for i in range(4):
        model(torch.randn(2, 3, 8, 8)).sum().backward()  # moves BN statistics and the SN vectors
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        ref.update_parameters(model)
        weight = 1 - 0.9 if i % 2 else torch.tensor(1 - 0.9)  # a Python number, or a tensor as the loop fills
        ema_update(ours.module, model, weight, ours.n_averaged, first=i == 0)
        a, b, g = ref.module.state_dict(), ours.module.state_dict(), model.state_dict()
        sn = {k for k in a if k.endswith(("._u", "._v"))}
        assert a.keys() == b.keys() and len(sn) == 2
        assert all(torch.equal(a[k], b[k]) for k in a if k not in sn)
        assert all(torch.equal(b[k], g[k]) for k in sn)
        assert int(ours.n_averaged) == int(ref.n_averaged) == i + 1
    assert not torch.equal(ours.module[2].weight, model[2].weight)  # it is an average, not a copy


def test_step_sums_give_interval_means_and_restart():
    s = StepSums()
    for v in (1.0, 2.0, 6.0):
        s.add({"a": torch.tensor(v), "b": torch.tensor(-v)})
    m = s.means()
    assert list(m) == ["a", "b"] and m["a"].item() == 3.0 and m["b"].item() == -3.0
    s.add({"a": torch.tensor(5.0), "b": torch.tensor(0.0)})
    assert s.means()["a"].item() == 5.0  # a new interval
    assert nonfinite(s.current(("a", "b"))) is None
    s.add({"a": torch.tensor(1.0), "b": torch.tensor(math.inf)})
    s.add({"a": torch.tensor(1.0), "b": torch.tensor(0.0)})
    assert nonfinite(s.current(("a",))) is None and nonfinite(s.current(("a", "b"))) == "b"  # an earlier inf persists
    assert StepSums().means() == {}


def test_tensor_learning_rates_follow_the_schedule_in_place_and_save_as_floats():
    """A captured optimiser step reads its rate from a tensor: the schedule must change that tensor
    in place, and checkpoints hold plain floats so eager and fast runs load each other's."""
    w = nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([w], lr=0.1, fused=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / 4)
    lr_to_tensors(opt)
    rate = opt.param_groups[0]["lr"]
    for step in range(1, 4):
        w.grad = torch.ones(3)
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] is rate and rate.item() == pytest.approx(0.1 * (1 - step / 4))
    saved_opt, saved_sched = lr_to_floats(opt.state_dict()), lr_to_floats(sched.state_dict())
    assert isinstance(saved_opt["param_groups"][0]["lr"], float)
    assert all(isinstance(v, float) for v in saved_sched["_last_lr"] + saved_sched["base_lrs"])
    w2 = nn.Parameter(torch.ones(3))
    opt2 = torch.optim.Adam([w2], lr=1.0)  # an eager run's optimiser
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 1.0 - s / 4)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1 * (1 - 4 / 4), abs=1e-12)


def test_an_optimiser_keeps_its_own_kernels_when_loading_another_runs_state():
    """A checkpoint of an eager run must not turn a fast run's fused Adam into the plain one (it
    could not be captured), nor the other way round; the saved moments and steps do load."""

    def adam(**kw):
        w = nn.Parameter(torch.ones(3))
        opt = torch.optim.Adam([w], lr=0.1, **kw)
        w.grad = torch.full((3,), 0.5)
        opt.step()
        return opt

    for saved_kw, own_kw, flag in (({}, {"fused": True}, "fused"), ({"fused": True}, {"foreach": True}, "foreach")):
        saved = lr_to_floats(adam(**saved_kw).state_dict())
        opt = adam(**own_kw)
        opt.state[opt.param_groups[0]["params"][0]]["exp_avg"].zero_()
        load_optimizer(opt, saved)
        assert opt.param_groups[0][flag] is True
        assert opt.param_groups[0]["fused"] == own_kw.get("fused")  # None: the default, not fused
        st = opt.state[opt.param_groups[0]["params"][0]]
        assert torch.equal(st["exp_avg"], torch.full((3,), 0.05)) and float(st["step"]) == 1.0


SYNCS = ["item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "nonzero"]


def _in_step() -> bool:
    return any(f.function == "train_step" for f in inspect.stack(0))


@pytest.mark.parametrize(
    "extra",
    [
        [
            "objective.name=nonsaturating",
            "model.conditional=true",
            "train.ema_kimg=0.5",
            "train.augment=color,translation,cutout",
            "data.hflip=true",
            "train.lr_schedule=linear",
        ],
        ["objective.name=wgan-gp", "train.d_steps=2", "model.batch_norm=false"],
        ["objective.name=hinge", "model.spectral_norm=true", "objective.r1_gamma=1.0"],
        ["objective.name=hinge", "model.spectral_norm=true", "train.compile=true", "train.ema_kimg=2"],
        [  # BigGAN with its orthogonal regularisation, and ADA adjusting p inside the step
            "model.name=biggan",
            "data.resolution=32",
            "model.conditional=true",
            "model.attention=16",
            "objective.name=hinge",
            "objective.ortho_reg=1e-4",
            "train.ada_target=0.6",
            "train.ada_kimg=0.05",
        ],
    ],
)
def test_the_training_step_reads_nothing_back_to_the_host(extra, monkeypatch):
    """Inside ``train_step`` (what the fast path records in a CUDA graph) no tensor is read by the
    host: every Python-level way to do it raises there. (C++-level reads, such as boolean-mask
    indexing, are not seen by this test; on a GPU, capture itself refuses them.) The fast path is
    forced on: it is the step that gets captured, and its fused Adam keeps the step count on the
    device, where plain Adam reads a host-side counter each step. With train.compile the first
    step compiles (torch reads constants then; on a GPU it is a warm-up step): steps 2 and 3 are
    checked."""
    seen, armed = [], [False]
    for name in SYNCS:
        orig = getattr(torch.Tensor, name)

        def guard(self, *a, _orig=orig, _name=name, **k):
            if armed[0] and _in_step():
                seen.append(_name)
            return _orig(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, guard)
    cfg = load_config(
        "digits",
        overrides=[
            "train.steps=3",
            "train.batch_size=4",
            "train.eval_features=",
            "model.g_hidden=8",
            "model.d_hidden=8",
            "model.z_dim=8",
            "train.log_every=2",
            "train.fast=true",
            *extra,
            *QUIET,
        ],
    )
    first_checked = 2 if cfg.train.compile else 1

    def arm(step, G, D):
        armed[0] = step + 1 >= first_checked

    res = train(cfg, callback=arm)
    assert res.step == 3 and math.isfinite(res.stats["loss/d"]) and armed[0]
    assert seen == []


def test_the_sync_check_can_fail(monkeypatch):
    """The guard of the test above does see a read made inside a function called train_step."""
    seen = []
    orig = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda self: (seen.append("item") if _in_step() else None, orig(self))[1])

    def train_step():
        return torch.ones(1).sum().item()

    train_step()
    assert seen == ["item"]


@pytest.mark.parametrize("compiled", [False, True])
def test_the_fast_path_is_channels_last_except_when_compiled(compiled):
    """On the fast path G, D and the real batches are channels_last, but not under train.compile:
    torch 2.11's inductor asserted on a channels_last convolution's backward strides on an H100."""
    from gankit.build import build_run
    from gankit.distributed import World
    from gankit.training.setup import fast_path, make_parts

    cfg = load_config("digits", overrides=["train.fast=true", f"train.compile={str(compiled).lower()}", *QUIET])
    cpu, W = torch.device("cpu"), World()
    data, G, D = build_run(cfg, cpu)
    fp = fast_path(cfg, False, cpu, W)
    parts, _, _ = make_parts(cfg, data, G, D, 0, cpu, W, fp)
    assert fp.compiled == compiled
    # weights whose layout tells the formats apart (one input channel is both)
    convs = [p for net in (parts.G, parts.D) for p in net.parameters() if p.dim() == 4 and p.shape[1] > 1]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) != compiled for p in convs)
    assert parts.batches.channels_last != compiled


class _FakeCuda:
    """Enough of torch.cuda for cuda_graphed's control flow on the CPU: a 'capture' runs the body
    (a real one records it without running it) and counts; a replay counts."""

    def __init__(self, monkeypatch, sync_fails=False):
        import contextlib

        self.captures, self.replays, self.capturing = 0, 0, False
        fake = self

        class Stream:
            device = torch.device("cpu")

            def wait_stream(self, other):
                pass

        class CUDAGraph:
            def replay(self):
                fake.replays += 1

        @contextlib.contextmanager
        def graph(g, stream=None):
            fake.capturing = True
            try:
                yield
            except Exception:  # as torch's capture_end: its own error hides the op's
                raise RuntimeError("CUDA error: operation failed due to a previous error during capture")
            finally:
                fake.capturing = False
            fake.captures += 1

        def synchronize():
            if sync_fails:
                raise RuntimeError("operation not permitted when stream is capturing")

        main = Stream()
        for name, value in {
            "Stream": Stream,
            "CUDAGraph": CUDAGraph,
            "graph": graph,
            "current_stream": lambda: main,
            "stream": lambda s: contextlib.nullcontext(),
            "set_stream": lambda s: None,
            "synchronize": synchronize,
        }.items():
            monkeypatch.setattr(torch.cuda, name, value)


def test_cuda_graphed_warms_up_captures_once_then_replays(monkeypatch):
    from gankit.fast import cuda_graphed

    fake = _FakeCuda(monkeypatch)
    eager = []
    run = cuda_graphed(lambda: eager.append(fake.capturing), warmup=3, notice=pytest.fail)
    for _ in range(10):
        run()
    assert eager == [False, False, False, True]  # 3 warm-up steps, then the body once under capture
    assert fake.captures == 1 and fake.replays == 7  # the captured step itself is replayed at once


@pytest.mark.parametrize("cuda_broken", [False, True])
def test_a_failed_capture_goes_on_eagerly_or_stops_with_one_line(monkeypatch, cuda_broken):
    from gankit.errors import GankitError
    from gankit.fast import cuda_graphed

    fake = _FakeCuda(monkeypatch, sync_fails=cuda_broken)
    calls, notices = [], []

    def step():
        calls.append(1)
        if fake.capturing:
            raise RuntimeError("CUDA error: operation not permitted when stream is capturing\nmore")

    run = cuda_graphed(step, warmup=2, notice=notices.append)
    run(), run()
    if cuda_broken:  # the line names the op's error, not capture_end's "previous error"
        with pytest.raises(GankitError, match="not permitted when stream is capturing.*set train.cuda_graph=false"):
            run()
        return
    for _ in range(3):
        run()
    assert len(calls) == 2 + 1 + 1 + 2  # warm-up, the failed capture, that step again eagerly, then eager
    assert fake.replays == 0 and len(notices) == 1
    assert notices[0].startswith("fast path: the step could not be captured") and "\n" not in notices[0]
    assert "RuntimeError: CUDA error: operation not permitted when stream is capturing" in notices[0]


# --- on a GPU: the step replayed from a CUDA graph -------------------------------------------------
GRAPH_CASES = [
    [
        "objective.name=nonsaturating",
        "model.conditional=true",
        "train.ema_kimg=2",
        "train.augment=translation,cutout",
        "data.hflip=true",
        "train.lr_schedule=linear",
    ],
    ["objective.name=wgan-gp", "train.d_steps=2", "model.batch_norm=false"],
    ["objective.name=hinge", "model.spectral_norm=true", "objective.r1_gamma=1.0"],
    ["objective.name=hinge", "model.spectral_norm=true", "train.compile=true", "train.ema_kimg=2"],
]


@cuda
@pytest.mark.parametrize("extra", GRAPH_CASES)
def test_cuda_graph_losses_follow_the_eager_fp32_path(extra, tmp_path, capsys):
    losses = {}
    for name, flags in (("fp32", ["train.fast=false"]), ("graph", ["train.fast=true", "train.cuda_graph=true"])):
        cfg = load_config(
            "digits",
            overrides=[
                "train.steps=8",
                "train.batch_size=64",
                "train.log_every=1",
                "train.eval_features=",
                "train.device=cuda",
                *flags,
                *extra,
                *QUIET,
            ],
        )
        train(cfg, tmp_path / name)
        losses[name] = [(r["loss/d"], r["loss/g"]) for r in read_jsonl(tmp_path / name / "metrics.jsonl")]
    assert "could not be captured" not in capsys.readouterr().err
    assert len(losses["graph"]) == 8
    for (d32, g32), (d16, g16) in zip(losses["fp32"], losses["graph"]):
        assert d16 == pytest.approx(d32, rel=5e-2, abs=5e-2) and g16 == pytest.approx(g32, rel=5e-2, abs=5e-2)


@cuda
def test_cuda_graph_run_resumes_and_its_checkpoint_loads_eagerly(tmp_path):
    base = [
        "train.steps=12",
        "train.batch_size=32",
        "train.eval_features=",
        "train.device=cuda",
        "train.ema_kimg=0.5",
        "train.checkpoint_every=6",
        "train.lr_schedule=linear",
        *QUIET,
    ]
    cfg = load_config("digits", overrides=base)
    train(cfg, tmp_path / "a", stop_after=6)
    res = train(cfg, tmp_path / "a", resume=True)
    assert res.step == 12 and math.isfinite(res.stats["loss/d"])
    eager = load_config("digits", overrides=[*base, "train.cuda_graph=false", "train.fast=false", "train.steps=14"])
    assert train(eager, tmp_path / "a", resume=True).step == 14


def test_compiled_networks_train_like_eager_ones(tmp_path):
    """train.compile (torch.compile of G and D in place, with channels_last and bf16 here): the
    first steps' losses follow the uncompiled run's, and the checkpoint keeps the parameter names."""
    losses = {}
    for name in ("false", "true"):
        cfg = load_config(
            "digits",
            overrides=[
                "train.steps=3",
                "train.batch_size=8",
                "train.log_every=1",
                "train.eval_features=",
                "model.g_hidden=8",
                "model.d_hidden=8",
                "train.fast=true",
                f"train.compile={name}",
                "train.ema_kimg=0.5",
                *QUIET,
            ],
        )
        train(cfg, tmp_path / name)
        losses[name] = [(r["loss/d"], r["loss/g"]) for r in read_jsonl(tmp_path / name / "metrics.jsonl")]
    assert len(losses["true"]) == 3
    for (d0, g0), (d1, g1) in zip(losses["false"], losses["true"]):
        assert d1 == pytest.approx(d0, rel=2e-2, abs=2e-2) and g1 == pytest.approx(g0, rel=2e-2, abs=2e-2)
    a = torch.load(tmp_path / "false" / "checkpoints" / "last.pt", weights_only=True)["G"]
    b = torch.load(tmp_path / "true" / "checkpoints" / "last.pt", weights_only=True)["G"]
    assert a.keys() == b.keys()


def test_compile_with_a_gradient_penalty_says_why_it_is_off(capsys):
    cfg = load_config("ring8", overrides=["train.steps=1", "objective.name=wgan-gp", "train.compile=true", *QUIET])
    train(cfg)
    assert "need a double backward" in capsys.readouterr().err


@pytest.mark.parametrize("reuse,d_steps,calls", [(False, 1, 2), (True, 1, 1), (False, 2, 3), (True, 2, 2)])
def test_reuse_fake_runs_g_forward_once_fewer_a_step(reuse, d_steps, calls):
    """Algorithm 1 draws fresh noise for the G step (k + 1 forward passes of G a step); with
    train.reuse_fake the last D step's fake batch serves the G step (k passes), and G still learns."""
    cfg = load_config(
        "digits",
        overrides=[
            "train.steps=2",
            "train.batch_size=4",
            "train.eval_features=",
            "model.g_hidden=8",
            "model.d_hidden=8",
            f"train.d_steps={d_steps}",
            f"train.reuse_fake={reuse}",
            "model.conditional=true",
            *QUIET,
        ],
    )
    forwards = []

    def hook_at_start(step, G, D):
        if step == 0:
            G.register_forward_hook(lambda *a: forwards.append(1))

    first = train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"steps": 1})}))
    res = train(cfg, callback=hook_at_start)
    assert len(forwards) == 2 * calls  # two steps (no samples or evaluations without a run directory)
    assert not torch.equal(next(first.G.parameters()), next(res.G.parameters()))  # the second step moved G
