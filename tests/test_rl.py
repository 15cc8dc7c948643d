"""Reinforcement learning: the six-room Q table to the integer, TD(0) on the random walk, the sum-tree and replay
buffers against brute force (chi-squared), DQN's targets against numpy, seeded evaluation, bad input, a SIGKILLed
DQN run resuming bit for bit, and the shipped dqn_cartpole (CLI play, LiteRT device script = Keras policy)."""

import json
import re
import subprocess
import sys

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import zoo
import zoo.rl
from zoo.errors import ZooError
from zoo.families.rl import dqn, envs, replay, tabular
from zoo.families.rl.policy import LinearPolicy, hill_climb
from conftest import ROOT, kill_then_resume, run_zoo_here, user_lines, zoo_env
from tolerances import assert_f32_close

SHIPPED = ROOT / "saved_models" / "dqn_cartpole"
needs_shipped = pytest.mark.skipif(not (SHIPPED / "model.keras").is_file(), reason="dqn_cartpole not shipped")
TINY = dict(hidden_units=[16, 16], learning_starts=64, train_freq=16, gradient_steps=4, buffer_size=2000, eval_every=500,
            eval_episodes=3)


# -- the six-room example --------------------------------------------------------------------------------------
def test_six_room_env_is_registered_and_has_exactly_the_classic_doors():
    env = gymnasium.make(zoo.rl.SIX_ROOMS_ID)
    r = env.unwrapped.rewards
    doors = {(s, t) for s in range(6) for t in range(6) if r[s, t] >= 0}
    expected = {(a, b) for a, b in envs.SIX_ROOM_DOORS} | {(b, a) for a, b in envs.SIX_ROOM_DOORS}
    assert doors == expected
    assert all(r[s, 5] == 100 for s, t in doors if t == 5) and all(r[s, t] == 0 for s, t in doors if t != 5)
    env.reset(seed=0, options={"start": 2})
    with pytest.raises(ZooError, match="no door from room 2 to 1"):
        env.step(1)
    assert env.step(3)[:4] == (3, 0.0, False, False)
    assert env.step(1)[:4] == (1, 0.0, False, False)
    assert env.step(5)[:4] == (5, 100.0, False, True)   # the outside ends the episode but is not terminal


@pytest.mark.parametrize("eta", [None, 0.5], ids=["deterministic", "stochastic"])
def test_q_learning_converges_to_the_classic_normalized_table_to_the_integer(eta):
    q = tabular.q_learning(zoo.rl.SIX_ROOMS_ID, episodes=1500, gamma=0.8, eta=eta, seed=1)
    table = tabular.normalized(q)
    assert table[1].tolist() == [0, 0, 0, 64, 0, 100]
    assert table[3].tolist() == [0, 80, 51, 0, 80, 0]
    assert np.array_equal(table, tabular.SIX_ROOMS_Q_NORMALIZED)
    # against an independent computation: value iteration on the reward matrix, Q* with Q*(5, 5) = 100 / (1 - 0.8)
    q_star = tabular.value_iteration_q(envs.six_room_rewards(), gamma=0.8)
    assert q_star.max() == pytest.approx(500.0)
    np.testing.assert_allclose(q, q_star, atol=0.5 if eta is None else 2.0)


@pytest.mark.slow
def test_greedy_exploration_alone_does_not_find_the_table_but_epsilon_greedy_does():
    q_star = tabular.value_iteration_q(envs.six_room_rewards(), gamma=0.8)
    stuck = tabular.q_learning(episodes=300, epsilon=0.0, seed=0)     # greedy from Q = 0 keeps taking the first door
    assert np.abs(stuck - q_star).max() > 100
    explored = tabular.q_learning(episodes=1500, epsilon=0.3, seed=0)
    assert np.array_equal(tabular.normalized(explored), tabular.SIX_ROOMS_Q_NORMALIZED)


# -- TD(0) on the random walk ----------------------------------------------------------------------------------
def test_td0_applies_the_update_rule_along_the_episode_the_environment_plays():
    v = tabular.td0(episodes=1, eta=0.1, seed=3)
    # replay the same episode by hand: the environment reset with the seed td0 uses
    env = gymnasium.make(zoo.rl.RANDOM_WALK_ID)
    s, _ = env.reset(seed=3 * 1_000_003)
    expect = np.array([0, .5, .5, .5, .5, .5, 0])
    done = False
    while not done:
        s2, r, done, _, _ = env.step(0)
        expect[s] = expect[s] + 0.1 * (r + (0 if done else expect[s2]) - expect[s])
        s = s2
    np.testing.assert_allclose(v[1], expect, rtol=0, atol=1e-15)


def test_td0_converges_to_the_true_values_and_the_rms_curve_falls_from_its_known_start():
    v = tabular.td0(episodes=4000, eta=0.01, seed=0, record=False)
    np.testing.assert_allclose(v[1:-1], np.arange(1, 6) / 6, atol=0.05)
    curves = tabular.rms_curve(etas=(0.05, 0.15), episodes=100, runs=20)
    start = np.sqrt(np.mean((0.5 - np.arange(1, 6) / 6) ** 2))
    for eta, c in curves.items():
        assert c.shape == (101,) and c[0] == pytest.approx(start)
        assert c[-1] < 0.6 * start
    # Sutton and Barto's figure: the larger step falls faster at first, the smaller ends lower
    assert curves[0.15][10] < curves[0.05][10] and curves[0.05][100] < curves[0.15][100]


# -- sum-tree and replay ---------------------------------------------------------------------------------------
def test_sum_tree_sums_and_prefix_search_match_brute_force(rng):
    tree = replay.SumTree(37)
    p = rng.random(37) * (rng.random(37) > 0.2)
    tree.update(np.arange(37), p)
    assert tree.total == pytest.approx(p.sum())
    tree.update([5, 5], [3.0, 0.25])            # a repeated index: the last value wins
    p[5] = 0.25
    assert tree.total == pytest.approx(p.sum())
    mass = rng.random(5000) * p.sum()
    expected = np.searchsorted(np.cumsum(p), mass, side="right")
    np.testing.assert_array_equal(tree.find(mass), expected)
    assert np.all(p[tree.find(mass)] > 0)


def test_sampling_frequencies_are_proportional_to_priorities_chi_squared(rng):
    n = 50
    buf = replay.PrioritizedReplayBuffer(64, (2,), alpha=1.0, eps=0.0)
    for i in range(n):
        buf.add(np.full(2, i, np.float32), i % 2, float(i), np.zeros(2, np.float32), False)
    priorities = rng.uniform(0.1, 5.0, n)
    buf.update_priorities(np.arange(n), priorities)          # alpha = 1, eps = 0: p_i = |delta_i|
    draws = np.concatenate([buf.sample(32, rng)[0] for _ in range(2000)])
    counts = np.bincount(draws, minlength=n)
    expected = priorities / priorities.sum() * len(draws)
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    np.testing.assert_allclose(buf.probabilities(), priorities / priorities.sum())
    # and a wrong hypothesis (uniform) is rejected by the same test: the test can fail
    assert stats.chisquare(counts, np.full(n, len(draws) / n)).pvalue < 1e-6
    # the uniform buffer samples uniformly
    uni = replay.ReplayBuffer(64, (2,))
    for i in range(n):
        uni.add(np.zeros(2), 0, 0.0, np.zeros(2), False)
    counts = np.bincount(np.concatenate([uni.sample(32, rng)[0] for _ in range(1000)]), minlength=n)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_importance_weights_match_brute_force_and_are_annealed_to_one(rng):
    buf = replay.PrioritizedReplayBuffer(16, (1,), alpha=0.6, eps=1e-6)
    for i in range(10):
        buf.add(np.zeros(1), 0, 0.0, np.zeros(1), False)
    td = rng.normal(size=10)
    buf.update_priorities(np.arange(10), td)
    p = (np.abs(td) + 1e-6) ** 0.6
    prob = p / p.sum()
    for beta in (0.4, 1.0):
        index, _, w = buf.sample(8, rng, beta)
        brute = (10 * prob[index]) ** -beta / ((10 * prob.min()) ** -beta)
        np.testing.assert_allclose(w, brute, rtol=1e-5)
        assert np.all(w <= 1 + 1e-6)
    assert replay.beta_schedule(0, 1000, 0.4) == 0.4
    assert replay.beta_schedule(500, 1000, 0.4) == pytest.approx(0.7)
    assert replay.beta_schedule(1000, 1000, 0.4) == replay.beta_schedule(5000, 1000, 0.4) == 1.0
    # new transitions enter at the largest priority so far
    buf.add(np.zeros(1), 0, 0.0, np.zeros(1), False)
    assert buf.tree[10] == pytest.approx(p.max())


def test_replay_state_round_trips_exactly(rng):
    a = replay.PrioritizedReplayBuffer(8, (3,))
    for i in range(11):
        a.add(rng.random(3), i % 2, rng.random(), rng.random(3), i % 3 == 0)
    a.update_priorities([1, 4], [0.3, 2.0])
    arrays, scalars = a.state()
    b = replay.PrioritizedReplayBuffer(8, (3,))
    b.load_state({k: v.copy() for k, v in arrays.items()}, json.loads(json.dumps(scalars)))
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    ia, ba, wa = a.sample(16, r1, 0.5)
    ib, bb, wb = b.sample(16, r2, 0.5)
    assert np.array_equal(ia, ib) and np.array_equal(wa, wb)
    assert all(np.array_equal(x, y) for x, y in zip(ba, bb))


# -- environments: state for checkpoints ------------------------------------------------------------------------
def test_environment_state_restores_mid_episode_into_a_fresh_env():
    a = gymnasium.make("CartPole-v1")
    a.reset(seed=4)
    for _ in range(7):
        a.step(1)
    snap = json.loads(json.dumps(envs.env_state(a)))
    after = [a.step(k % 2)[0] for k in range(5)] + [a.reset()[0]]
    b = gymnasium.make("CartPole-v1")
    b.reset(seed=99)
    envs.set_env_state(b, snap)
    again = [b.step(k % 2)[0] for k in range(5)] + [b.reset()[0]]    # the reset draws from the restored generator
    for x, y in zip(after, again):
        assert np.array_equal(x, y)


# -- DQN -------------------------------------------------------------------------------------------------------
def _tiny(**kw):
    tf.keras.utils.set_random_seed(0)
    return zoo.create_model("dqn_cartpole", **{**TINY, **kw})


def test_dqn_is_a_keras_model_whose_act_is_the_argmax_of_its_q_values(rng):
    model = _tiny()
    obs = rng.normal(size=(9, 4)).astype(np.float32)
    q = np.asarray(model(obs))
    assert q.shape == (9, 2)
    # numpy forward pass with the layers' weights; `size` runs the same net on |obs| with |weights|: the
    # magnitude every sum on the way is made of, which float32 rounding is relative to (a Q-value near 0 is not)
    h, size = obs, np.abs(obs)
    for layer in model.online[:-1]:
        h = np.maximum(h @ np.asarray(layer.kernel) + np.asarray(layer.bias), 0)
        size = size @ np.abs(np.asarray(layer.kernel)) + np.abs(np.asarray(layer.bias))
    size = size @ np.abs(np.asarray(model.online[-1].kernel)) + np.abs(np.asarray(model.online[-1].bias))
    # predict (batches in a tf.function) and a direct call: the same float32 sums, maybe by other kernels
    assert_f32_close(model.predict(obs, verbose=0), q, size, what="predict against call")
    np.testing.assert_array_equal(model.act(obs), q.argmax(axis=1))
    assert model.act(obs[0]) == int(q[0].argmax())
    np.testing.assert_allclose(h @ np.asarray(model.online[-1].kernel) + np.asarray(model.online[-1].bias), q,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("double_q, target_update", [(False, 0), (False, 10), (True, 10)],
                         ids=["plain", "target", "double"])
@pytest.mark.slow
def test_dqn_td_errors_match_a_numpy_reference(double_q, target_update, rng):
    model = _tiny(double_q=double_q, target_update=target_update)
    # make the target net differ from the online net, so using the wrong one would show
    for layer in model.target:
        for w in layer.weights:
            w.assign(np.asarray(w) + rng.normal(scale=0.3, size=w.shape).astype(np.float32))
    gamma = model.get_config()["gamma"]
    o, o2 = rng.normal(size=(32, 4)).astype(np.float32), rng.normal(size=(32, 4)).astype(np.float32)
    a = rng.integers(0, 2, 32)
    r = rng.random(32).astype(np.float32)
    d = (rng.random(32) < 0.3).astype(np.float32)
    q_online = np.asarray(model._net(model.online, o2), np.float64)
    q_target = np.asarray(model._net(model.target, o2), np.float64)
    q_now = np.asarray(model._net(model.online, o), np.float64)[np.arange(32), a]
    source = q_target if target_update else q_online
    value = source[np.arange(32), q_online.argmax(1)] if double_q else source.max(1)
    expect = r + gamma * (1 - d) * value - q_now
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
    update = dqn.make_update(model, double_q, bool(target_update), gamma, 10.0)
    _, td = update(o, a, r, o2, d, np.ones(32, np.float32))
    np.testing.assert_allclose(np.asarray(td), expect, rtol=1e-4, atol=1e-4)


def test_epsilon_schedule_is_linear_then_flat():
    assert dqn.epsilon(0, 1000, 0.2, 0.05) == 1.0
    assert dqn.epsilon(100, 1000, 0.2, 0.05) == pytest.approx(0.525)
    assert dqn.epsilon(200, 1000, 0.2, 0.05) == pytest.approx(0.05)
    assert dqn.epsilon(999, 1000, 0.2, 0.05) == 0.05


@pytest.mark.slow
def test_evaluate_side_by_side_equals_one_episode_at_a_time():
    w = np.array([[0.0, 0.0], [0.0, 0.1], [0.0, 1.0], [0.0, 0.3]])
    batched = LinearPolicy(w)

    class OneAtATime:
        def act(self, obs):
            return int(np.argmax(np.asarray(obs, np.float64) @ w))

    a = zoo.rl.evaluate(batched, "CartPole-v1", 70, 11)
    b = zoo.rl.evaluate(OneAtATime(), "CartPole-v1", 70, 11)
    assert a == b
    # and by hand, episode by episode
    env = gymnasium.make("CartPole-v1")
    returns = []
    for k in range(70):
        obs, _ = env.reset(seed=11 + k)
        total, done = 0.0, False
        while not done:
            obs, rew, term, trunc, _ = env.step(OneAtATime().act(obs))
            total, done = total + rew, term or trunc
        returns.append(total)
    assert a == (pytest.approx(np.mean(returns)), pytest.approx(np.std(returns)))


def test_hill_climbing_finds_a_linear_policy_that_balances_the_pole():
    policy, history = hill_climb(iterations=60, episodes_per_eval=5, seed=0, target=500)
    assert history["best_return"][-1] == 500
    assert np.all(np.diff(history["best_return"]) >= 0)
    assert zoo.rl.evaluate(policy, "CartPole-v1", 10, 123)[0] > 400


@pytest.mark.parametrize("call, message", [
    (lambda m: zoo.rl.evaluate(m, "NoSuchEnv-v9", 3, 0), "unknown environment 'NoSuchEnv-v9'"),
    (lambda m: zoo.rl.evaluate(m, "CartPole-v1", 0, 0), "episodes must be an integer >= 1"),
    (lambda m: zoo.rl.evaluate(m, "CartPole-v1", -2, 0), "episodes must be an integer >= 1"),
    (lambda m: zoo.rl.evaluate(m, "Pendulum-v1", 2, 0), r"observations of shape \(4,\) but Pendulum-v1 gives \(3,\)"),
    (lambda m: m.act(np.zeros(3)), r"expected shape \(4,\) or \(N, 4\)"),
    (lambda m: m.act(np.zeros((2, 5))), r"expected shape \(4,\) or \(N, 4\)"),
    (lambda m: m.act(np.array([0, 0, np.nan, 0])), "NaN"),
    (lambda m: zoo.create_model("dqn_cartpole", double_q=True, target_update=0), "double_q needs a target network"),
], ids=["unknown-env", "zero-episodes", "negative-episodes", "obs-shape-env", "obs-short", "obs-wide", "nan",
        "double-without-target"])
def test_bad_input_is_one_clear_error(call, message):
    model = _tiny()
    with pytest.raises(ZooError, match=message) as info:
        call(model)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_sigkilled_dqn_run_resumes_bit_identically(tmp_path):
    """The replay buffer, sum-tree, epsilon schedule (the step count), the numpy generator and the environment
    mid-episode all come back: the resumed run's weights and per-epoch evaluations equal an uninterrupted one's."""
    env = zoo_env(ZOO_RUNS_DIR=tmp_path / "runs", ZOO_MODELS_DIR=tmp_path / "models")
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={json.dumps(v)}")]

    def command(out):
        return [sys.executable, "-m", "zoo", "train", "dqn_cartpole", *sets, "--epochs", "4", "--seed", "2",
                "--verbose", "1", "--out", str(out)]

    result = kill_then_resume(command, tmp_path, env, phase="dqn", timeout=240)
    cards = result.cards
    assert cards[0]["training"]["final"] == cards[1]["training"]["final"]
    assert cards[0]["learning"]["curve"]["eval_return"] == cards[1]["learning"]["curve"]["eval_return"]
    assert cards[0]["learning"]["training_episodes"] == cards[1]["learning"]["training_episodes"]


# -- the shipped agent ------------------------------------------------------------------------------------------
@needs_shipped
def test_shipped_card_reports_500_over_100_held_out_episodes():
    card = zoo.model_card("dqn_cartpole")
    m = card["metrics"]
    assert m["mean_return"] == 500.0 and m["episodes"] == 100 and m["seeds"].startswith(str(dqn.TEST_SEED))
    # the seeded command, up to how chatty it was
    assert re.sub(r" --verbose \d", "", card["training"]["command"]) == "zoo train dqn_cartpole --publish"
    # the held-out seeds are not the ones evaluations during training used
    assert dqn.TEST_SEED > dqn.EVAL_SEED + 1000 * (card["learning"]["env_steps"] // 2500) + 20


@needs_shipped
@pytest.mark.slow
def test_zoo_play_prints_returns_and_refuses_bad_episodes(tmp_path):
    code, out, err = run_zoo_here("play", "dqn_cartpole", "--episodes", "3", "--seed", "7", "--video", tmp_path / "a.gif")
    assert code == 0, err
    agent = zoo.load("dqn_cartpole")
    returns = zoo.rl.evaluate(agent, "CartPole-v1", 3, 7)
    lines = out.splitlines()
    assert [ln.split("return ")[1] for ln in lines[:3]] == ["500"] * 3
    assert lines[3].startswith(f"mean return {returns[0]:.2f}")
    from PIL import Image
    gif = Image.open(tmp_path / "a.gif")
    assert gif.format == "GIF" and gif.n_frames > 100
    code, out, err = run_zoo_here("play", "dqn_cartpole", "--episodes", "0")
    assert code == 1 and user_lines(err) == ["zoo play: error: --episodes must be an integer >= 1, got 0"]


@needs_shipped
@pytest.mark.skipif(not (SHIPPED / "exports" / "qnet_int8.tflite").is_file(), reason="no int8 export")
def test_device_script_returns_equal_the_keras_policy_over_the_same_seeds():
    agent = zoo.load("dqn_cartpole")
    seed, n = 3_000_000, 10
    p = subprocess.run([sys.executable, str(ROOT / "export" / "examples" / "play_cartpole.py"),
                        str(SHIPPED / "exports" / "qnet_int8.tflite"), "--episodes", str(n), "--seed", str(seed)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    device = [float(line.split("return ")[1]) for line in p.stdout.splitlines()[:n]]
    _, _, keras_returns = zoo.families.rl.evaluation.evaluate(agent, "CartPole-v1", n, seed, return_all=True)
    assert device == keras_returns.tolist()
    # and the script uses no TensorFlow, Keras or zoo
    source = (ROOT / "export" / "examples" / "play_cartpole.py").read_text()
    assert not any(w in source for w in ("import tensorflow", "import keras", "import zoo", "from zoo"))


@needs_shipped
def test_shipped_agent_is_a_plain_keras_model_and_from_preset_checks_the_class(rng):
    import keras

    plain = keras.saving.load_model(SHIPPED / "model.keras")
    agent = zoo.rl.DQN.from_preset("dqn_cartpole")
    assert type(plain) is zoo.rl.DQN and plain.get_config() == agent.get_config()
    obs = rng.normal(size=(16, 4)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(plain(obs)), np.asarray(agent(obs)))
    with pytest.raises(ZooError, match="not a VAE"):
        zoo.VAE.from_preset("dqn_cartpole")


def test_the_numpy_behaviour_policy_picks_the_networks_greedy_actions(rng):
    # the training loop acts with a numpy copy of the weights; it must be the Keras net's argmax
    model = _tiny()
    for w in model.q_variables:
        w.assign(rng.normal(scale=0.5, size=w.shape).astype(np.float32))
    obs = rng.normal(scale=2.0, size=(300, 4)).astype(np.float32)
    greedy = model.numpy_policy()
    assert [greedy(o) for o in obs] == model.act(obs).tolist()


@pytest.mark.parametrize("change", [{"lr_schedule": "cosine"}, {"early_stopping": 3}])
def test_dqn_refuses_a_schedule_or_early_stopping_it_would_ignore(change):
    from zoo import training
    from zoo.families import rl

    model = zoo.create_model("dqn_cartpole")
    recipe = dict(training.recipe_of("dqn_cartpole"), **change)
    with pytest.raises(ZooError, match="--lr-schedule and --early-stopping do not apply"):
        rl.train(model, None, recipe, None)
