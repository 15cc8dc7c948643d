"""Energy-based nets: Hopfield storage and recall (energy descent as a property, the seed's two exercises, fixed
points below capacity), a Boltzmann machine learning the 4-2-4 encoder's distribution (exact KL), and the RBM
(likelihoods that sum to one, AIS against exact enumeration, training that raises the exact likelihood, save/load,
export, classifier reuse, SIGKILL resume, bad input)."""

import itertools
import json
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import zoo
from zoo.errors import ZooError
from zoo.families import energy as E
from conftest import needs_mnist, zoo_env, kill_then_resume
from tolerances import assert_f32_close


# -- Hopfield -----------------------------------------------------------------------------------------------------
def test_exercise_1_a_zero_is_not_a_hopfield_state():
    """Seed exercise: can [1, 0, -1, 0, 1] be stored in a 5-neuron discrete network? No: 0 is not a ±1 state."""
    net = E.HopfieldNetwork(5)
    with pytest.raises(ZooError, match=r"pattern 0 has 0 at position 1 \(0 is not a ±1 state\)"):
        net.store([1, 0, -1, 0, 1])
    assert not net.weights.any() and len(net.patterns) == 0    # nothing half-stored


def test_exercise_2_the_weight_matrix_of_two_memories():
    y1, y2 = [1, -1, 1, -1, 1, 1], [1, 1, 1, -1, -1, -1]
    w = E.hopfield_weights([y1, y2])
    # worked by hand: w_ij = (y1_i y1_j + y2_i y2_j) / 6 off the diagonal
    by_hand = np.array([[0, 0, 2, -2, 0, 0],
                        [0, 0, 0, 0, -2, -2],
                        [2, 0, 0, -2, 0, 0],
                        [-2, 0, -2, 0, 0, 0],
                        [0, -2, 0, 0, 0, 2],
                        [0, -2, 0, 0, 2, 0]]) / 6
    np.testing.assert_allclose(w, by_hand, atol=1e-15)
    net = E.HopfieldNetwork(6).store([y1, y2])
    assert net.is_fixed_point([y1, y2]).all()
    # and each memory is an attractor: one flipped bit comes back
    for y in (y1, y2):
        for i in range(6):
            noisy = np.array(y)
            noisy[i] *= -1
            out, _ = net.recall(noisy, mode="async", seed=i)
            assert np.array_equal(out, y), (y, i)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 40), p=st.integers(1, 12), seed=st.integers(0, 2 ** 31 - 1))
def test_energy_never_increases_under_asynchronous_updates(n, p, seed):
    rng = np.random.default_rng(seed)
    net = E.HopfieldNetwork(n).store(np.where(rng.random((p, n)) < 0.5, 1, -1))
    start = np.where(rng.random(n) < 0.5, 1, -1)
    final, trace = net.recall(start, mode="async", max_steps=50, seed=seed)
    assert np.all(np.diff(trace) <= 1e-9)
    # the incrementally tracked trace ends at the energy computed afresh, and at a fixed point
    assert trace[0] == pytest.approx(net.energy(start), abs=1e-9)
    assert trace[-1] == pytest.approx(net.energy(final), abs=1e-9)
    assert net.is_fixed_point(final).all()


def test_threshold_update_keeps_a_unit_whose_field_is_zero():
    net = E.HopfieldNetwork(3)    # nothing stored: every field is zero, so nothing may move, in either mode
    for mode in E.HopfieldNetwork.MODES:
        out, trace = net.recall([1, -1, 1], mode=mode)
        assert out.tolist() == [1, -1, 1] and np.all(trace == 0)


def test_synchronous_updates_match_an_independent_sign_step_and_can_oscillate():
    # two neurons coupled negatively, both +1: synchronously they flip together forever (a 2-cycle), which the
    # asynchronous dynamics cannot do
    net = E.HopfieldNetwork(2)
    net.weights = [[0, -1], [-1, 0]]
    out, trace = net.recall([1, 1], mode="sync", max_steps=5)
    assert out.tolist() == [-1, -1] and len(trace) == 6      # 5 steps, never settled
    out, trace = net.recall([1, 1], mode="async", seed=0)
    assert sorted(out.tolist()) == [-1, 1] and np.all(np.diff(trace) <= 0)
    rng = np.random.default_rng(1)
    patterns = np.where(rng.random((4, 30)) < 0.5, 1, -1)
    net = E.HopfieldNetwork(30).store(patterns)
    x = np.where(rng.random(30) < 0.5, 1, -1)
    out, _ = net.recall(x, mode="sync", max_steps=1)
    # n times the field, in integers: sum_k y_ki (y_k . x) minus the self-coupling p x_i
    field = np.array([sum(int(y[i]) * int(y @ x) for y in patterns) - len(patterns) * x[i] for i in range(30)])
    assert (field == 0).any()                           # the zero-field rule is exercised
    assert np.array_equal(out, np.where(field > 0, 1, np.where(field < 0, -1, x)))


def test_stored_patterns_are_fixed_points_below_capacity_and_attract_noisy_cues():
    rng = np.random.default_rng(0)
    n, p = 400, 20                                   # load 0.05, well under 0.138
    patterns = np.where(rng.random((p, n)) < 0.5, 1, -1)
    net = E.HopfieldNetwork(n).store(patterns)
    assert net.is_fixed_point(patterns).all()
    noisy = patterns * np.where(rng.random((p, n)) < 0.1, -1, 1)      # 10% of the bits flipped
    out, traces = net.recall(noisy, mode="async", seed=0)
    assert np.array_equal(out, patterns)
    assert traces.shape[1] == p and np.all(np.diff(traces, axis=0) <= 1e-9)
    # far above capacity the patterns stop being fixed points
    many = np.where(rng.random((200, n)) < 0.5, 1, -1)             # load 0.5
    assert E.HopfieldNetwork(n).store(many).is_fixed_point(many).mean() < 0.05


@pytest.mark.parametrize("bad, message", [
    ([1, 0, -1, 0, 1], r"0 is not a ±1 state"),
    ([1, 2, -1, 1, 1], r"has 2 at position 1"),
    ([1.0, np.nan, -1, 1, 1], r"has nan at position 1"),
    (np.array([True, False, True, True, False]), r"got booleans"),
    ([1, -1, 1], r"has 5 neurons, got vectors of length 3"),
    ([[1, -1], [1]], r"ragged"),
    (["a", "b", "c", "d", "e"], r"numeric"),
])
def test_hopfield_bad_patterns_are_refused_with_one_clear_line(bad, message):
    net = E.HopfieldNetwork(5)
    for call in (net.store, net.recall, net.energy):
        with pytest.raises(ZooError, match=message):
            call(bad)


def test_hopfield_bad_arguments():
    net = E.HopfieldNetwork(3)
    with pytest.raises(ZooError, match="mode"):
        net.recall([1, 1, 1], mode="parallel")
    with pytest.raises(ZooError, match="max_steps"):
        net.recall([1, 1, 1], max_steps=0)
    with pytest.raises(ZooError, match="n must be"):
        E.HopfieldNetwork(0)


# -- Boltzmann machine ------------------------------------------------------------------------------------------
def _brute_force_visible(bm):
    """p(v) over the visible states by summing exp(-E) over every joint state, written independently."""
    p = {}
    for s in itertools.product([0, 1], repeat=bm.n):
        s = np.array(s, float)
        e = -(0.5 * s @ bm.weights @ s + bm.bias @ s)
        key = tuple(s[:bm.visible].astype(int))
        p[key] = p.get(key, 0.0) + np.exp(-e)
    z = sum(p.values())
    return {k: v / z for k, v in p.items()}


@pytest.mark.slow
def test_boltzmann_machine_learns_the_encoder_distribution_by_annealing():
    data, mask = E.encoder_problem(4)               # 4-2-4: 8 visible units, 2 hidden, V1 and V2 unconnected
    assert E.BoltzmannMachine(8, 2, connectivity=mask, init_scale=0.0).kl_to(data) == pytest.approx(np.log(256 / 4))
    # seed 1 finds the code (bench/energy_boltzmann.py: other seeds can stall with two patterns on one code)
    bm = E.BoltzmannMachine(8, 2, connectivity=mask, seed=1)
    schedule = E.geometric_schedule(t_start=10.0, t_end=1.0, steps=6, sweeps_per_temperature=1)
    history = bm.fit(np.repeat(data, 10, axis=0), epochs=1000, learning_rate=2.0, final_learning_rate=0.1,
                     schedule=schedule, sample_sweeps=5, chains=100)
    assert history[-1] == pytest.approx(bm.kl_to(data))
    assert history[-1] < 0.1, history[-1]
    p = bm.visible_distribution()
    patterns = (data @ (2 ** np.arange(8)[::-1])).astype(int)
    assert p[patterns].sum() > 0.9 and p[patterns].min() > 0.15      # every pattern, not one of them
    assert np.all(bm.weights[:4, 4:8] == 0)          # the mask held: V1 reaches V2 only through the hidden units
    # the enumeration it reports against is right: compare with a brute-force sum over all 2^10 states
    brute = _brute_force_visible(bm)
    q = bm.visible_distribution()
    for k, v in brute.items():
        assert q[int("".join(map(str, k)), 2)] == pytest.approx(v, rel=1e-9, abs=1e-15)
    # generated vectors follow the learned distribution (annealed chains, then Gibbs at T = 1)
    gen = bm.generate(3000, schedule=schedule, sweeps=10)
    assert E.kl_divergence(E.empirical_distribution(gen) + 0, q) < 0.15


def test_exact_statistics_equal_brute_force_and_the_annealed_sampler_estimates_them():
    bm = E.BoltzmannMachine(4, 2, seed=3, init_scale=1.0)
    bm.bias = np.random.default_rng(0).normal(0, 0.5, 6)
    v = np.array([[1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 1, 0]])
    pos, pos_m, neg, neg_m = bm.exact_statistics(v)
    # brute force, written independently: weights exp(-E) over itertools' joint states
    states = np.array(list(itertools.product([0, 1], repeat=6)), float)
    w = np.exp(0.5 * np.einsum("ki,ij,kj->k", states, bm.weights, states) + states @ bm.bias)
    assert np.allclose(neg, (states * (w / w.sum())[:, None]).T @ states, atol=1e-12)
    clamped = []
    for row in v:
        sel = np.all(states[:, :4] == row, axis=1)
        q = w[sel] / w[sel].sum()
        clamped.append((states[sel] * q[:, None]).T @ states[sel])
    assert np.allclose(pos, np.mean(clamped, axis=0), atol=1e-12)
    assert np.allclose(pos_m, np.diag(pos)) and np.allclose(neg_m, np.diag(neg))   # s_i^2 = s_i
    # the annealed sampler's free phase estimates the same <s_i s_j> (20,000 chains x 20 sweeps at T = 1)
    sampled, _, _ = bm._anneal(np.zeros((20_000, 6)), np.arange(6), E.geometric_schedule(10, 1, steps=4), 20)
    assert np.abs(sampled / (20_000 * 20) - neg).max() < 0.01


@pytest.mark.slow
def test_exact_statistics_training_is_the_same_rule_without_noise():
    data, mask = E.encoder_problem(4, hidden=3)          # 4-3-4: the code has room to spare
    bm = E.BoltzmannMachine(8, 3, connectivity=mask, seed=0)
    history = bm.fit(data, epochs=2000, learning_rate=2.0, final_learning_rate=0.1, statistics="exact")
    assert history[-1] < 0.03 and history[-1] < history[0] / 100
    with pytest.raises(ZooError, match="statistics"):
        bm.fit(data, epochs=1, statistics="guess")


def test_boltzmann_machine_bad_input():
    bm = E.BoltzmannMachine(3, 1)
    with pytest.raises(ZooError, match="0 or 1"):
        bm.fit([[0, 0.5, 1]], epochs=1)
    with pytest.raises(ZooError, match="expected 3 units"):
        bm.fit([[0, 1]], epochs=1)
    with pytest.raises(ZooError, match="schedule"):
        bm.fit([[0, 1, 1]], epochs=1, schedule=[(0.0, 1)])
    with pytest.raises(ZooError, match="at most 24 units"):
        E.BoltzmannMachine(20, 10)
    with pytest.raises(ZooError, match="hidden"):
        E.encoder_problem(4, hidden=1)          # 4 patterns cannot get their own code in 1 bit


# -- RBM ------------------------------------------------------------------------------------------------------------
def _all_states(n):
    return ((np.arange(2 ** n)[:, None] >> np.arange(n)[::-1]) & 1).astype(np.float32)


def _random_rbm(visible, hidden, scale, seed):
    m = E.RBM(visible=visible, hidden=hidden, num_chains=4, seed=seed)
    rng = np.random.default_rng(seed)
    m.hidden_layer.kernel.assign(rng.normal(0, scale, (visible, hidden)).astype(np.float32))
    m.hidden_layer.bias.assign(rng.normal(0, 1, hidden).astype(np.float32))
    m.visible_bias.assign(rng.normal(0, 1, visible).astype(np.float32))
    return m


def test_rbm_likelihoods_sum_to_one_and_match_a_joint_enumeration():
    m = _random_rbm(8, 5, 1.0, 0)
    w, b, c = (np.asarray(a, np.float64) for a in (m.W.numpy(), m.visible_bias.numpy(), m.hidden_layer.bias.numpy()))
    # Z summed over every (v, h) pair, independently of the model's enumeration over one layer
    v, h = _all_states(8).astype(np.float64), _all_states(5).astype(np.float64)
    neg_e = (v @ b)[:, None] + (h @ c)[None, :] + v @ w @ h.T
    log_z = np.log(np.exp(neg_e).sum())
    assert m.exact_log_partition() == pytest.approx(log_z, abs=1e-9)
    assert _random_rbm(5, 8, 1.0, 0).exact_log_partition() == pytest.approx(
        _random_rbm(5, 8, 1.0, 0).exact_log_partition())
    ll = m.log_likelihood(_all_states(8), log_z=m.log_partition(method="exact"))
    assert np.exp(ll).sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(ll, np.log(np.exp(neg_e).sum(axis=1)) - log_z, atol=1e-4)
    # the enumeration over the visible layer (used when it is the smaller one) agrees with the transpose
    t = _random_rbm(5, 8, 1.0, 3)
    v5, h8 = _all_states(5).astype(np.float64), _all_states(8).astype(np.float64)
    wt, bt, ct = (np.asarray(a, np.float64) for a in (t.W.numpy(), t.visible_bias.numpy(), t.hidden_layer.bias.numpy()))
    assert t.exact_log_partition() == pytest.approx(
        np.log(np.exp((v5 @ bt)[:, None] + (h8 @ ct)[None, :] + v5 @ wt @ h8.T).sum()), abs=1e-9)


@pytest.fixture(scope="module")
def trained_small_rbm():
    """A 784-12 RBM trained with PCD on 2,000 MNIST digits: realistic weights, yet log Z enumerable (2^12)."""
    splits = zoo.data.splits("mnist")
    x = splits["train"][0][:2000]
    m = E.RBM(hidden=12, num_chains=50, momentum=0.5, seed=0)
    m.base_bias.assign(E.pixel_log_odds(x))
    m.visible_bias.assign(E.pixel_log_odds(x))
    zoo.training.fit(m, x, epochs=4, batch_size=50, learning_rate=0.1, optimizer="sgd", verbose=0)
    return m, splits


@needs_mnist
@pytest.mark.slow
def test_ais_matches_the_exact_log_partition_of_a_trained_small_rbm(trained_small_rbm):
    m, _ = trained_small_rbm
    exact = m.exact_log_partition()
    est = m.ais(num_chains=100, num_betas=1000, runs=2, seed=0)
    assert abs(est["log_z"] - exact) < 0.1, (est, exact)
    assert est["log_z_minus_3sd"] is not None and est["log_z_minus_3sd"] <= est["log_z"] <= est["log_z_plus_3sd"]
    assert abs(est["log_z_base"] - exact) > 1.0      # the answer is not just the base model's
    # same seed, same estimate; another seed, another estimate within the error bars
    assert m.ais(num_chains=100, num_betas=1000, runs=2, seed=0)["log_z"] == est["log_z"]
    assert m.log_partition(num_chains=20, num_betas=200) == m.log_partition(num_chains=20, num_betas=200)


@needs_mnist
@pytest.mark.slow
def test_pcd_training_raises_the_exact_likelihood_and_the_pieces_agree_with_numpy(trained_small_rbm):
    m, splits = trained_small_rbm
    xb = zoo.data.binarize(splits["test"][0][:300], 0)
    untrained = E.RBM(hidden=12, seed=0)
    untrained.base_bias.assign(m.base_bias)
    untrained.visible_bias.assign(m.base_bias)
    before = untrained.log_likelihood(xb, log_z=untrained.exact_log_partition()).mean()
    after = m.log_likelihood(xb, log_z=m.exact_log_partition()).mean()
    assert after > before + 5, (before, after)
    w, b, c = (np.asarray(a, np.float64) for a in (m.W.numpy(), m.visible_bias.numpy(), m.hidden_layer.bias.numpy()))
    # float32 against float64: each result is a few float32 eps off the magnitudes it was summed from, however
    # near 0 the sum itself lands (F(v) = -v.b - sum softplus(v W + c) cancels to under 1 for some digits).
    pre = xb @ w + c                                   # (N, hidden) pre-activations
    pre_size = np.abs(xb) @ np.abs(w) + np.abs(c)      # what each pre-activation is summed from
    free_energy_size = np.abs(xb) @ np.abs(b) + pre_size.sum(1) + np.logaddexp(0, pre).sum(1)
    assert_f32_close(m.free_energy(xb), -xb @ b - np.logaddexp(0, pre).sum(1), free_energy_size, rtol=1e-5,
                     what="free energy")
    # sigmoid passes a pre-activation's error times s(1 - s) <= 1/4, plus its own rounding (~1 ulp of 1)
    hid = 1 / (1 + np.exp(-pre))
    assert_f32_close(m.encode(xb), hid, hid * (1 - hid) * pre_size + 1, what="hidden probabilities")
    np.testing.assert_allclose(m.reconstruct(xb), 1 / (1 + np.exp(-(hid @ w.T + b))), atol=1e-5)
    # test_metrics uses AIS; with a small schedule it still lands near the exact figure
    m2 = E.RBM(hidden=12, num_chains=50, ais_chains=50, ais_betas=1000, ais_runs=2)
    m2.set_weights(m.get_weights())
    metrics = m2.test_metrics(splits["test"][0][:300])
    exact_ll = float(np.mean(-m.free_energy(xb))) - m.exact_log_partition()
    assert metrics["log_likelihood"] == pytest.approx(exact_ll, abs=0.2)
    lo, hi = metrics["log_likelihood_interval"]
    assert lo <= metrics["log_likelihood"] <= hi
    json.dumps(metrics, allow_nan=False)              # what a card holds must be strict JSON


@needs_mnist
@pytest.mark.slow
def test_rbm_samples_save_load_classifier_and_export(trained_small_rbm, tmp_path):
    m, splits = trained_small_rbm
    s = m.sample(4, seed=3, gibbs_steps=20)
    assert s.shape == (4, 28, 28) and np.array_equal(s, m.sample(4, seed=3, gibbs_steps=20))
    assert 0 <= s.min() and s.max() <= 1
    zoo.registry.save_model(m, tmp_path / "rbm", {"name": "rbm"})
    back = zoo.load(tmp_path / "rbm")
    for a, b in zip(m.get_weights(), back.get_weights()):
        assert np.array_equal(a, b)
    xb = zoo.data.binarize(splits["test"][0][:50], 0)
    assert np.array_equal(back.free_energy(xb), m.free_energy(xb))
    # the hidden-feature map is a plain Keras encoder a classifier fine-tunes
    clf = zoo.create_model("mnist_classifier", encoder=m)
    np.testing.assert_allclose(clf.encode(xb), m.encode(xb), atol=1e-6)
    parts = E.export_parts(m, splits)
    enc = parts["encoder"]
    out = enc.model(enc.inputs(8, 0)[0])["hidden"]
    np.testing.assert_allclose(out, m.encode(enc.inputs(8, 0)[0]), atol=1e-6)
    report = enc.metric(lambda arrays: [m.encode(arrays[0])])
    assert report["relative_diff"] == 0.0


def test_a_stack_of_rbms_is_a_dbn_encoder_a_classifier_fine_tunes(rng):
    low, high = _random_rbm(784, 6, 0.05, 1), _random_rbm(6, 5, 1.0, 2)
    x = (rng.random((7, 784)) < 0.3).astype(np.float32)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    by_hand = sig(sig(x @ low.W.numpy() + low.hidden_layer.bias.numpy()) @ high.W.numpy()
                  + high.hidden_layer.bias.numpy())
    dbn = E.DeepBeliefEncoder([low, high])
    np.testing.assert_allclose(dbn.inference_encoder()(x), by_hand, atol=1e-5)
    clf = zoo.create_model("mnist_classifier", encoder=dbn)
    np.testing.assert_allclose(clf.encode(x), by_hand, atol=1e-5)
    with pytest.raises(ZooError, match="cannot stack an RBM with 6 hidden units under one with 784"):
        E.stacked_encoder([low, low])


def test_rbm_bad_input():
    m = E.RBM(visible=784, hidden=4, num_chains=2)
    grey = np.full((2, 784), 0.5, np.float32)
    with pytest.raises(ZooError, match="binary vectors.*binarize first"):
        m.log_likelihood(grey, log_z=0.0)
    with pytest.raises(ZooError, match="binary vectors of length 784"):
        m.free_energy(np.zeros((2, 100)))
    with pytest.raises(ZooError, match="contains NaN"):
        m.test_metrics(np.full((2, 784), np.nan, np.float32))
    with pytest.raises(ZooError, match="binarization"):
        E.RBM(hidden=4, binarization="threshold")
    with pytest.raises(ZooError, match="gibbs_steps"):
        m.sample(2, gibbs_steps=0)
    with pytest.raises(ZooError, match="not class-conditional"):
        m.sample(2, labels=[1, 2])
    with pytest.raises(ZooError, match="at most 24 units"):
        E.RBM(visible=30, hidden=30, num_chains=2).exact_log_partition()
    with pytest.raises(ZooError, match="method"):
        m.log_partition(method="guess")
    with pytest.raises(ZooError, match="float pixel values must lie in"):
        m.test_metrics(np.full((2, 784), 2.0, np.float32))


def test_binarization_none_refuses_grey_training_data_and_trains_on_binary_data():
    grey = np.full((8, 784), 0.5, np.float32)
    data = {"train": (grey, None), "val": (grey[:0], None)}
    m = E.RBM(visible=784, hidden=4, num_chains=2, binarization="none")
    with pytest.raises(ZooError, match="binarization='none' but the training images are not binary"):
        E.train(m, data, {"epochs": 1, "batch_size": 4, "learning_rate": 0.1, "seed": 0},
                lambda *a, **k: pytest.fail("fit reached"))
    with pytest.raises(Exception, match="needs binary training data"):      # Keras' own fit, no hook
        zoo.training.fit(m, grey, epochs=1, batch_size=4, optimizer="sgd", verbose=0)
    binary = (np.arange(8 * 784).reshape(8, 784) % 3 == 0).astype(np.float32)
    before = m.visible_bias.numpy().copy()
    zoo.training.fit(m, binary, epochs=1, batch_size=4, learning_rate=0.1, optimizer="sgd", verbose=0)
    assert not np.array_equal(before, m.visible_bias.numpy())


# -- SIGKILL resume of the CLI's training ---------------------------------------------------------------------------
TINY_SET = ["--set", "hidden=16", "--set", "num_chains=20", "--set", "ais_betas=100", "--set", "ais_runs=1"]


def _train_command(out):
    return [sys.executable, "-m", "zoo", "train", "rbm_mnist", *TINY_SET, "--epochs", "3", "--batch-size", "20",
            "--seed", "3", "--verbose", "2", "--out", str(out)]


@needs_mnist
@pytest.mark.slow
def test_sigkill_mid_training_then_the_same_command_gives_bit_identical_weights(tmp_path, small_data_dir):
    env = zoo_env(ZOO_DATA_DIR=small_data_dir, ZOO_RUNS_DIR=tmp_path / "runs", ZOO_MODELS_DIR=tmp_path / "models")
    run = kill_then_resume(_train_command, tmp_path, env)
    assert run.cards[0]["metrics"]["log_likelihood"] == run.cards[1]["metrics"]["log_likelihood"]
    # the persistent chain and the momentum are state too, and they moved
    b = run.resumed
    assert np.asarray(b.chain).any() and np.asarray(b.velocities[0]).any()
    assert len(run.cards[1]["training"]["final"]) and "fe_gap" in run.cards[1]["training"]["final"]


