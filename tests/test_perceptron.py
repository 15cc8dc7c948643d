"""The perceptron family: Rosenblatt's rule as Keras runs it equals the rule written out in numpy, it learns the
seed's festival table exactly, it provably cycles on XOR (a repeated state of a deterministic map, and a linear
programme proving no hyperplane exists), a 2-layer MLP and a network of three rule-trained threshold units
solve XOR, files round-trip, training resumes bit for bit after SIGKILL, and bad inputs get one clear line."""

import itertools
import json
import sys

import numpy as np
import pytest
from scipy.optimize import linprog

import zoo
from zoo import figures, training
from zoo.errors import ZooError
from zoo.families import perceptron as P
from conftest import ROOT, run_zoo_here, zoo_env, kill_then_resume


def numpy_rule(x, y, w, b, lr, epochs):
    """Rosenblatt's rule written out: states [w, b] at each epoch start and after the last, mistakes per epoch."""
    w, b = np.array(w, np.float64), float(b)
    states, errors = [np.append(w, b)], []
    for _ in range(epochs):
        wrong = 0
        for xi, yi in zip(x.astype(np.float64), y):
            y_hat = 1.0 if xi @ w + b >= 0 else 0.0
            w, b = w + lr * (yi - y_hat) * xi, b + lr * (yi - y_hat)
            wrong += int(y_hat != yi)
        states.append(np.append(w, b))
        errors.append(wrong)
    return np.array(states), np.array(errors)


def separable(x, y):
    """An LP: is there (w, b) with (2y - 1)(x.w + b) >= 1 for every row? (Any strict separator scales to margin 1.)"""
    s = 2 * y - 1
    a = -s[:, None] * np.hstack([x, np.ones((len(x), 1))])
    res = linprog(np.zeros(x.shape[1] + 1), A_ub=a, b_ub=-np.ones(len(x)), bounds=[(None, None)] * (x.shape[1] + 1))
    return res.status == 0


# -- the festival table -------------------------------------------------------------------------------------------
def test_festival_table_is_the_seeds():
    x, y, names = P.truth_table("festival")
    assert names == ("weather", "friend", "transport")
    assert x.shape == (8, 3) and sorted(map(tuple, x.astype(int))) == list(itertools.product((0, 1), repeat=3))
    assert np.array_equal(y, x[:, 0])  # yes exactly when the weather is good


def test_keras_fit_runs_rosenblatts_rule_and_learns_the_festival_table_exactly():
    model = zoo.create_model("perceptron")
    x, y, _ = P.truth_table("festival")
    order = np.random.default_rng(3).permutation(8)
    h = model.fit(x[order], y[order], batch_size=8, epochs=6, shuffle=False, verbose=0)
    want_states, want_errors = numpy_rule(x[order], y[order], [0, 0, 0], 0, 1.0, 6)
    assert np.array_equal(model.weight_vector(), want_states[-1])
    assert h.history["errors"] == [float(e) for e in want_errors]
    assert want_errors[-1] == 0 and model.test_metrics() == {"errors": 0, "examples": 8, "accuracy": 1.0}
    assert np.array_equal(model.decide(x), y.astype(int))
    assert np.array_equal(model.predict(x, verbose=0), y)  # the Keras-native path gives the same decisions


def test_the_rule_on_real_inputs_and_batches_matches_numpy_in_order():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = (x @ rng.normal(size=5) > 0.2).astype(np.float32)
    model = P.Perceptron(input_dim=5, init="uniform", seed=4)
    w0 = model.weight_vector()
    model.compile(optimizer=__import__("keras").optimizers.SGD(0.1))
    model.fit(x, y, batch_size=7, epochs=3, shuffle=False, verbose=0)  # batches of 7: the rule is still row by row
    want, _ = numpy_rule(x, y, w0[:5], w0[5], 0.1, 3)
    np.testing.assert_allclose(model.weight_vector(), want[-1], rtol=0, atol=1e-5)


def test_separability_certificates():
    assert separable(*P.truth_table("festival")[:2])
    assert not separable(*P.truth_table("xor")[:2])  # no hyperplane: the single unit's limit


# -- XOR: the rule cycles ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[::5])
def test_the_rule_cycles_on_xor_and_never_converges(order):
    x, y, _ = P.truth_table("xor")
    x, y = x[list(order)], y[list(order)]
    unit = P.Perceptron(input_dim=2)
    trace = unit.learn(x, y, epochs=60, learning_rate=1.0)
    want_states, want_errors = numpy_rule(x, y, [0, 0], 0, 1.0, 60)
    assert np.array_equal(trace["states"], want_states) and np.array_equal(trace["errors"], want_errors)
    # The epoch map is deterministic, so a repeated state makes the whole future periodic: the states from
    # `first` on repeat with `period`, and every epoch of the cycle makes mistakes, hence all later epochs do.
    first, period = P.find_cycle(trace["states"])
    assert first + period < 60
    for t in range(first, 60 - period + 1):
        assert np.array_equal(trace["states"][t], trace["states"][t + period])
    cycle_errors = trace["errors"][first:first + period]
    assert cycle_errors.min() >= 1
    assert trace["errors"].min() >= 1  # not one epoch without a mistake, before the cycle either
    # The weights stay bounded (the perceptron cycling theorem) and integer-valued, as the exact repeat needs.
    assert np.all(trace["states"] == np.round(trace["states"])) and np.abs(trace["states"]).max() <= 4


def test_xor_analysis_reports_what_the_rule_does():
    out, _, trace = P.xor_analysis(epochs=30)
    first, period = P.find_cycle(trace["states"])
    assert out["cycle"]["starts_at_epoch"] == first and out["cycle"]["period_epochs"] == period
    assert out["errors_per_epoch_min"] == int(trace["errors"].min()) >= 1


# -- networks of units --------------------------------------------------------------------------------------------------
def test_mlp_solves_xor_by_backprop():
    model = zoo.create_model("mlp_xor")
    x, y, _ = P.truth_table("xor")
    # 300 full-batch updates as one epoch of 300 copies of the table (each batch of 4 is the whole table, so the
    # updates are those of 300 epochs; one epoch spares Keras' per-epoch overhead)
    model.fit(np.tile(x, (300, 1)), np.tile(y, 300), batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert model.test_metrics()["errors"] == 0
    p = model.probability(x)
    assert np.all(np.abs(p - y) < 0.2)
    # the forward pass written out from the weights
    k1, b1, k2, b2 = model.get_weights()
    manual = 1 / (1 + np.exp(-(np.tanh(x @ k1 + b1) @ k2 + b2)[:, 0]))
    np.testing.assert_allclose(p, manual, atol=1e-5)


def test_three_rule_trained_threshold_units_compute_xor():
    units, network = P.xor_network()
    x, y, _ = P.truth_table("xor")
    assert np.array_equal(network(x), y.astype(int))
    for name in ("or", "nand", "and"):
        xt, yt, _ = P.truth_table(name)
        assert np.array_equal(units[name].decide(xt), yt.astype(int))


def test_smooth_is_the_sigmoid_of_the_net_input_and_tends_to_the_step():
    model = P.Perceptron(input_dim=3, init="uniform", seed=2)
    x = np.random.default_rng(1).random((20, 3)).astype(np.float32)
    v = model.weight_vector()
    z = x.astype(np.float64) @ v[:3] + v[3]
    np.testing.assert_allclose(model.smooth(x), 1 / (1 + np.exp(-z)), atol=1e-6)
    sharp = model.smooth(x, temperature=1e-4)
    assert np.array_equal(np.round(sharp[np.abs(z) > 1e-2]), (z[np.abs(z) > 1e-2] >= 0).astype(float))


# -- shipped models, files, figures ---------------------------------------------------------------------------------------
def test_shipped_models_are_what_their_cards_say():
    unit, mlp = zoo.load("perceptron"), zoo.load("mlp_xor")
    assert unit.test_metrics()["errors"] == 0 and mlp.test_metrics()["errors"] == 0
    card = zoo.model_card("perceptron")
    assert card["metrics"]["errors"] == 0 and card["weights"]["w"] == unit.weight_vector()[:3].tolist()
    assert card["xor_with_the_rule"]["cycle"]["period_epochs"] >= 1


def test_save_and_load_round_trip(tmp_path):
    model = P.Perceptron(input_dim=3, init="uniform", seed=7, table="festival", name="perceptron")
    model.save(tmp_path / "p.keras")
    again = zoo.load(tmp_path / "p.keras")
    assert type(again) is P.Perceptron and again.get_config() == model.get_config()
    assert np.array_equal(again.weight_vector(), model.weight_vector())
    mlp = zoo.create_model("mlp_xor", seed=3)
    mlp.save(tmp_path / "m.keras")
    for a, b in zip(zoo.load(tmp_path / "m.keras").get_weights(), mlp.get_weights()):
        assert np.array_equal(a, b)


@pytest.mark.slow
def test_decision_figure_rings_exactly_the_mistakes(tmp_path):
    unit = P.Perceptron(input_dim=2, table="xor")
    unit.learn(epochs=5)
    x, y, _ = P.truth_table("xor")
    fig = P.figure(zoo.create_model("mlp_xor"))
    path = figures.save(fig, tmp_path / "f.png")
    from PIL import Image

    assert Image.open(path).size[0] >= 640
    # The ring test of the figure module, applied to the unit's grid, agrees with its decisions on the table.
    gx, gy, values = P._grid_values(unit.decide)
    ix, iy = np.searchsorted(gx, x[:, 0]), np.searchsorted(gy, x[:, 1])
    assert np.array_equal(values[iy, ix], unit.decide(x))


def test_exported_int8_unit_decides_like_keras():
    from ai_edge_litert.interpreter import Interpreter

    path = ROOT / "saved_models" / "perceptron" / "exports" / "perceptron_int8.tflite"
    runner = Interpreter(model_path=str(path))
    runner.allocate_tensors()
    sig = runner.get_signature_runner()
    x, y, _ = P.truth_table("festival")
    out = np.asarray(sig(inputs=x)["decision"]).reshape(-1)
    assert np.array_equal(out >= 0.5, y.astype(bool))


# -- resume after SIGKILL ----------------------------------------------------------------------------------------------------
def _cmd(out):
    return [sys.executable, "-m", "zoo", "train", "mlp_xor", "--epochs", "12", "--seed", "2", "--verbose", "2",
            "--out", str(out)]


@pytest.mark.slow
def test_sigkill_mid_training_then_the_same_command_gives_bit_identical_weights(tmp_path):
    env = zoo_env(ZOO_RUNS_DIR=tmp_path / "runs", ZOO_MODELS_DIR=tmp_path / "models")
    run = kill_then_resume(_cmd, tmp_path, env, phase="backprop", first_epoch_line="Epoch 1/12", settle=0.3)
    assert run.cards[1]["training"]["epochs_run"] == 12


@pytest.mark.slow
def test_zoo_train_perceptron_records_the_rule(zoo_dirs):
    model, card, _ = training.train("perceptron", verbose=0, seed=5)
    assert card["metrics"]["errors"] == 0 and card["truth_table"]["name"] == "festival"
    first = card["rule"]["first_epoch_without_mistakes"]
    assert first is not None and card["rule"]["errors_per_epoch"][first - 1] == 0


@pytest.mark.slow
def test_zoo_evaluate_measures_a_preset_without_a_data_set():
    code, out, err = run_zoo_here("evaluate", "mlp_xor")
    assert code == 0, err
    got, want = json.loads(out), zoo.load("mlp_xor").test_metrics()
    assert got["model"] == "mlp_xor" and got["errors"] == want["errors"] == 0
    assert got["bce_per_example"] == pytest.approx(want["bce_per_example"], rel=1e-5)


# -- bad inputs ------------------------------------------------------------------------------------------------------------------
BAD = [
    (lambda: zoo.create_model("perceptron", table="parity"), "table must be one of"),
    (lambda: zoo.create_model("perceptron", table="xor"), "table 'xor' has 2 inputs"),
    (lambda: zoo.create_model("perceptron", init="normal"), "init must be one of"),
    (lambda: zoo.create_model("mlp_xor", hidden_units=4), "hidden_units must be a list"),
    (lambda: zoo.create_model("mlp_xor", activation="step"), "activation must be one of"),
    (lambda: zoo.create_model("perceptron").decide(np.zeros((2, 4))), "expected shape (3,) or (N, 3)"),
    (lambda: zoo.create_model("perceptron").decide(np.full((1, 3), np.nan)), "NaN or Inf"),
    (lambda: zoo.create_model("perceptron").decide([["a", "b", "c"]]), "numeric array"),
    (lambda: zoo.create_model("perceptron").learn(np.zeros((2, 3)), [0, 2]), "binary targets"),
    (lambda: zoo.create_model("perceptron").learn(np.zeros((2, 3)), [0]), "binary targets"),
    (lambda: zoo.create_model("perceptron").learn(epochs=0), "epochs must be an integer >= 1"),
    (lambda: zoo.create_model("perceptron").learn(learning_rate=-1), "learning_rate must be > 0"),
    (lambda: P.Perceptron(input_dim=3).test_metrics(), "names no truth table"),
]


@pytest.mark.parametrize("call,message", BAD, ids=[m for _, m in BAD])
def test_bad_inputs_are_one_clear_line(call, message):
    with pytest.raises(ZooError) as e:
        call()
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_train_hook_passes_the_recipes_schedule_and_early_stopping_to_fit():
    seen = {}

    def fit(model, train, val, **kwargs):
        seen.update(kwargs)
        return {"loss": [1.0]}

    model = zoo.create_model("mlp_xor")
    recipe = dict(training.recipe_of("mlp_xor"), lr_schedule="cosine", early_stopping=2)
    P.train(model, None, recipe, fit)
    assert seen["lr_schedule"] == "cosine" and seen["early_stopping"] == 2
