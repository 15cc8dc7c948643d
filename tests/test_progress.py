"""Progress of long work (zoo.progress): what the bar writes at each verbose level, that the slow estimates (AIS's
log Z, the VAE's importance-weighted likelihood) report through it, that reporting changes no number, and that
`zoo evaluate` keeps the progress on stderr and the JSON alone on stdout."""

import io
import json
import re

import numpy as np
import pytest

from zoo import progress
from zoo.errors import ZooError
from conftest import needs_mnist, run_zoo_here


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _counts(text):
    """Each progress line as (what, done, total): total None on a stage's closing line ("what: N unit in m:ss")."""
    out = []
    for line in text.splitlines():
        what, _, rest = line.rpartition(": ")
        words = rest.replace(",", "").split()
        out.append((what, int(words[0]), int(words[2]) if words[1] == "of" else None))
    return out


def _run_bar(total, steps, verbose, stream):
    with progress.shown(verbose, stream):
        with progress.bar("work", total, "steps") as bar:
            for _ in range(steps):
                bar.advance(total // steps)


def test_a_log_gets_a_line_per_quarter_and_one_at_the_end():
    log = io.StringIO()
    _run_bar(100, 10, 1, log)
    assert _counts(log.getvalue()) == [("work", 30, 100), ("work", 50, 100), ("work", 80, 100), ("work", 100, None)]
    assert re.fullmatch(r"work: 30 of 100 steps \(30%\), \d+:\d\d so far", log.getvalue().splitlines()[0])
    assert re.fullmatch(r"work: 100 steps in \d+:\d\d", log.getvalue().splitlines()[-1])


def test_verbose_2_is_one_line_0_is_none_and_auto_follows_shown_or_the_terminal(monkeypatch):
    log = io.StringIO()
    _run_bar(100, 10, 2, log)
    assert log.getvalue().count("\n") == 1 and log.getvalue().startswith("work: 100 steps in ")
    for quiet in (0, "auto"):     # "auto" around nothing, on a stream that is not a terminal: silent
        log = io.StringIO()
        monkeypatch.setattr("sys.stderr", log)
        with progress.bar("work", 10, "steps", verbose=quiet) as bar:
            bar.advance(10)
        progress.stage("a stage", verbose=quiet)
        assert log.getvalue() == ""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    progress.stage("a stage")
    assert terminal.getvalue() == "a stage\n"
    # an explicit level wins over the one set around the call
    log = io.StringIO()
    with progress.shown(1, log):
        with progress.bar("work", 10, "steps", verbose=0) as bar:
            bar.advance(10)
    assert log.getvalue() == ""
    with pytest.raises(ZooError, match=r"verbose must be 0 \(silent\), 1 \(a bar\), 2 .* got 3"):
        progress.bar("work", 10, "steps", verbose=3)


def test_a_terminal_bar_repaints_in_place_at_most_every_interval(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(progress, "REPAINT_SECONDS", 3600.0)
    _run_bar(1000, 1000, 1, terminal)
    text = terminal.getvalue()
    # the first paint and the closing one, nothing in between, and the line ends once
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "] 0/1,000 steps" in text and re.search(r"\[=+\] 1,000/1,000 steps, \d+:\d\d *\n$", text)
    terminal = Terminal()
    monkeypatch.setattr(progress, "REPAINT_SECONDS", 0.0)
    _run_bar(1000, 10, 1, terminal)
    assert terminal.getvalue().count("\r") == 12 and "100/1,000 steps" in terminal.getvalue()


def test_rbm_ais_reports_each_chunk_of_temperatures_and_gives_the_figures_of_one_uninterrupted_run(monkeypatch):
    from zoo.families import energy as E

    rng = np.random.default_rng(0)
    m = E.RBM(visible=784, hidden=12, num_chains=10, ais_chains=20, ais_betas=60, ais_runs=2)
    m.W.assign(rng.normal(0.0, 0.3, (784, 12)).astype(np.float32))   # chains whose weights depend on their draws
    m.base_bias.assign(rng.normal(-1.0, 0.5, 784).astype(np.float32))
    # The reference: each run's temperatures in one graph call, as before the runs were cut into calls.
    monkeypatch.setattr(E, "AIS_BETAS_PER_CALL", 10 ** 6)
    whole = m.ais(verbose=0)
    monkeypatch.setattr(E, "AIS_BETAS_PER_CALL", 7)
    log = io.StringIO()
    with progress.shown(1, log):
        chunked = m.ais()
    assert chunked == whole and np.isfinite(whole["log_z"]) and whole["num_betas"] == 60
    # two runs of 60 temperatures in calls of 7: the quarters are crossed at 35, 60 and 95 of 120
    what = "AIS log Z (2 runs of 20 chains)"
    assert _counts(log.getvalue()) == [(what, 35, 120), (what, 60, 120), (what, 95, 120), (what, 120, None)]
    # test_metrics reports through the same bar, once: its second call takes log Z from the cache
    log = io.StringIO()
    x = rng.random((30, 784)).astype(np.float32)
    with progress.shown(2, log):
        figures = m.test_metrics(x)
        again = m.test_metrics(x)
    assert _counts(log.getvalue()) == [(what, 120, None)]
    assert figures == again and figures["log_z"] == whole["log_z"]


def test_vae_importance_weighted_likelihood_reports_its_images_and_changes_no_number(monkeypatch):
    from zoo.families import vae as V

    monkeypatch.setattr(V, "IWAE_ROWS_PER_CALL", 64)    # with 16 samples: 4 images a call
    m = V.VAE(hidden_units=[8], latent_dim=2)
    x = np.random.default_rng(1).random((70, 784)).astype(np.float32)
    quiet = m.test_metrics(x, num_samples=16, verbose=0)
    quiet_ll = m.log_likelihood(x[:9], num_samples=16, verbose=0)
    log = io.StringIO()
    with progress.shown(1, log):
        shown = m.test_metrics(x, num_samples=16)
        ll = m.log_likelihood(x[:9], num_samples=16)
    assert shown == quiet and np.array_equal(ll, quiet_ll)
    what = "IWAE log-likelihood (k=16)"
    assert _counts(log.getvalue()) == [(what, 20, 70), (what, 36, 70), (what, 56, 70), (what, 70, None),
                                       (what, 4, 9), (what, 8, 9), (what, 9, None)]


@needs_mnist
def test_zoo_evaluate_shows_progress_on_stderr_and_the_same_json_on_stdout(tmp_path, small_data_dir, monkeypatch):
    from zoo import registry
    from zoo.families import energy as E

    m = E.RBM(visible=784, hidden=8, num_chains=10, ais_chains=10, ais_betas=40, ais_runs=1)
    registry.save_model(m, tmp_path / "rbm", {"name": "rbm_mnist"})
    monkeypatch.setattr(E, "AIS_BETAS_PER_CALL", 10)
    runs = {}
    for verbose in ("0", "1"):
        code, out, err = run_zoo_here("evaluate", tmp_path / "rbm", "--limit", "20", "--verbose", verbose,
                                      ZOO_DATA_DIR=small_data_dir)
        assert code == 0, err
        runs[verbose] = json.loads(out), _counts(err)
    assert runs["0"][0] == runs["1"][0] and runs["0"][0]["examples"] == 20 and np.isfinite(runs["0"][0]["log_z"])
    what = "AIS log Z (1 run of 10 chains)"
    assert runs["0"][1] == []
    assert runs["1"][1] == [(what, 10, 40), (what, 20, 40), (what, 30, 40), (what, 40, None)]


def test_gan_test_figures_report_the_images_judged_and_are_those_of_one_call_over_all_of_them(monkeypatch):
    import zoo
    from zoo.families import gan

    # Minibatch features make D's answer depend on its batch (64 rows): the progress chunks must hold whole
    # batches, or the figures would move.
    m = zoo.create_model("dcgan_stacked_mnist", latent_dim=8, g_filters=[8, 4], d_filters=[4, 8], minibatch_kernels=3,
                         minibatch_dim=2)
    m.predict_batch_size = 32                      # G's batches; chunks of lcm(64, 32) = 64 images
    x = np.random.default_rng(2).random((150, 28, 28, 3)).astype(np.float32)
    d_real, d_fake = m.discriminate(x), m.discriminate(m.sample(150, seed=0))
    want = {"d_real": float(np.mean(d_real)), "d_fake": float(np.mean(d_fake)),
            "d_accuracy": float(0.5 * (np.mean(d_real > 0.5) + np.mean(d_fake < 0.5)))}
    log = io.StringIO()
    with progress.shown(1, log):
        shown = m.test_metrics(x)
    assert shown == m.test_metrics(x, verbose=0) == want
    # 150 real images in chunks of 64, then 150 samples: 64, 128, 150 and 214, 278, 300 of 300
    what = "D on test images and on as many samples"
    assert _counts(log.getvalue()) == [(what, 128, 300), (what, 150, 300), (what, 278, 300), (what, 300, None)]

    class Judge:                                   # a classifier stub: a digit per plane from its pixels
        predict_batch_size = 48

        def classify(self, planes):
            return (np.asarray(planes, np.float64).reshape(len(planes), -1).sum(1) * 1000).astype(np.int64) % 10

    log = io.StringIO()
    with progress.shown(1, log):
        modes = gan.sampled_modes(m, Judge(), 200, seed=0)
    np.testing.assert_array_equal(modes, gan.stacked_modes(Judge(), m.sample(200, seed=0)))
    assert len(set(modes.tolist())) > 10           # modes that differ, so a shuffled chunk would show
    what = f"{m.name}: Stacked MNIST modes"        # chunks of lcm(32, 48) = 96 samples
    assert _counts(log.getvalue()) == [(what, 96, 200), (what, 192, 200), (what, 200, None)]


def test_char_lm_nats_per_char_reports_the_characters_read_and_changes_no_number():
    from zoo.families import recurrent

    m = recurrent.CharLM(cell="window", units=12, embedding_dim=4, window=4, seed=0)
    ids = np.random.default_rng(3).integers(0, m.vocab_size, 700).astype(np.int32)
    quiet = recurrent.stream_loss(m._chunk, m.initial_state, ids[:-1], ids[1:], streams=2, chunk_len=64, verbose=0)
    log = io.StringIO()
    with progress.shown(1, log):
        shown = recurrent.stream_loss(m._chunk, m.initial_state, ids[:-1], ids[1:], streams=2, chunk_len=64)
    assert shown == quiet and np.isfinite(quiet)
    # 699 characters as 2 streams of 350 (the last one padded), 64 steps a call: 128 characters a call, 59 last
    what = "nats per character (2 streams)"
    assert _counts(log.getvalue()) == [(what, 256, 699), (what, 384, 699), (what, 640, 699), (what, 699, None)]
    text = m.decode(ids)
    log = io.StringIO()
    with progress.shown(2, log):
        figures = m.test_metrics(text)
    assert figures == m.test_metrics(text, verbose=0) and figures["nats_per_char"] == m.nats_per_char(text, verbose=0)
    assert _counts(log.getvalue()) == [("nats per character (2 streams)", 699, None)]


def test_rbm_pictures_report_their_gibbs_steps_and_draw_the_chains_sample_draws(monkeypatch):
    from zoo.families import energy as E

    monkeypatch.setattr(E, "PICTURE_GIBBS_STEPS", 40)
    m = E.RBM(visible=784, hidden=8, num_chains=2)
    m.W.assign(np.random.default_rng(4).normal(0.0, 0.5, (784, 8)).astype(np.float32))
    grids = []
    monkeypatch.setattr(E.figures, "image_grid", lambda images, **kw: grids.append((images, kw)) or "grid")
    log = io.StringIO()
    with progress.shown(1, log):
        figs = E.pictures(m, None)
    assert figs["samples.png"] == "grid"
    images, kw = grids[0]
    assert kw["row_labels"] == [f"step {4 * (i + 1)}" for i in range(10)] and images.shape == (100, 784)
    # the last row is p(v|h) after 40 steps of the chains sample() runs from the same seed
    np.testing.assert_array_equal(images[-10:].reshape(10, 28, 28), m.sample(10, seed=0, gibbs_steps=40))
    what = f"{m.name}: 10 Gibbs chains for samples.png"
    assert _counts(log.getvalue()) == [(what, 10, 40), (what, 20, 40), (what, 30, 40), (what, 40, None)]
