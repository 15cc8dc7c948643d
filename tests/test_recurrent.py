"""The recurrent family: the seed-equation cells against Keras' built-ins with the weights copied across, the
character models' stateful paths against their one-shot call, nats/char against a NumPy computation, generation,
bad input, save/load, the CLI, kill-and-resume, and the shipped LSTM's LiteRT step."""

import math
import sys

import keras
import numpy as np
import pytest

import zoo
from zoo import registry
from zoo.errors import ZooError
from zoo.families import recurrent
from zoo.layers.rnn_cells import ElmanCell, GRUCell, LSTMCell, SlidingWindow
from conftest import run_zoo_here, user_lines, zoo_env, kill_then_resume

B, T, D, U = 3, 9, 5, 4
VOCAB = recurrent.SHAKESPEARE_VOCABULARY


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def random_weights(layer, rng):
    for w in layer.weights:
        w.assign(rng.normal(0, 0.6, w.shape).astype(np.float32))


@pytest.fixture
def x(rng):
    return rng.normal(size=(B, T, D)).astype(np.float32)


# -- cells against Keras ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell, builtin", [(ElmanCell, keras.layers.SimpleRNN), (LSTMCell, keras.layers.LSTM)],
                         ids=["elman-simplernn", "lstm"])
def test_cell_equals_the_keras_builtin_with_copied_weights(cell, builtin, x, rng):
    ours = keras.layers.RNN(cell(U), return_sequences=True, return_state=True)
    theirs = builtin(U, return_sequences=True, return_state=True)
    ours(x), theirs(x)
    random_weights(theirs, rng)
    # same layouts (kernel, recurrent_kernel, bias; LSTM gates i, f, c, o): copied one to one
    ours.set_weights(theirs.get_weights())
    a, b = ours(x), theirs(x)
    assert len(a) == len(b)
    for p, q in zip(a, b):
        np.testing.assert_allclose(np.asarray(p), np.asarray(q), atol=1e-5, rtol=0)
    assert float(np.abs(np.asarray(a[0])).max()) > 0.1   # not a vacuous match of near-zero outputs


def test_gru_cell_equals_keras_gru_reset_before_with_z_mirrored(x, rng):
    ours = keras.layers.RNN(GRUCell(U), return_sequences=True)
    theirs = keras.layers.GRU(U, reset_after=False, return_sequences=True)
    ours(x), theirs(x)
    random_weights(theirs, rng)
    kernel, recurrent_kernel, bias = theirs.get_weights()
    # Keras: h = z h_prev + (1 - z) h~. The seed: h = (1 - z) h_prev + z h~, so z_seed = 1 - z_keras = sigmoid(-a)
    flip = np.concatenate([-np.ones(U), np.ones(2 * U)]).astype(np.float32)
    ours.set_weights([kernel * flip, recurrent_kernel * flip, bias * flip])
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), atol=1e-5, rtol=0)
    # and without the mirroring the two differ: the convention matters
    ours.set_weights([kernel, recurrent_kernel, bias])
    assert np.abs(np.asarray(ours(x)) - np.asarray(theirs(x))).max() > 1e-2


def numpy_gru(x, W, Uw, b):
    u = Uw.shape[0]
    h = np.zeros((x.shape[0], u))
    out = []
    for t in range(x.shape[1]):
        z = sigmoid(x[:, t] @ W[:, :u] + h @ Uw[:, :u] + b[:u])
        r = sigmoid(x[:, t] @ W[:, u:2 * u] + h @ Uw[:, u:2 * u] + b[u:2 * u])
        h_tilde = np.tanh(x[:, t] @ W[:, 2 * u:] + (r * h) @ Uw[:, 2 * u:] + b[2 * u:])
        h = (1 - z) * h + z * h_tilde
        out.append(h)
    return np.stack(out, 1)


def numpy_lstm(x, W, Uw, b):
    u = Uw.shape[0]
    h = c = np.zeros((x.shape[0], u))
    out = []
    for t in range(x.shape[1]):
        a = x[:, t] @ W + h @ Uw + b
        i, f, g, o = sigmoid(a[:, :u]), sigmoid(a[:, u:2 * u]), np.tanh(a[:, 2 * u:3 * u]), sigmoid(a[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out, 1)


@pytest.mark.parametrize("cell, reference", [(GRUCell, numpy_gru), (LSTMCell, numpy_lstm)], ids=["gru", "lstm"])
def test_cells_follow_the_seed_equations_in_numpy(cell, reference, x, rng):
    layer = keras.layers.RNN(cell(U), return_sequences=True)
    layer(x)
    random_weights(layer, rng)
    np.testing.assert_allclose(np.asarray(layer(x)), reference(x.astype(np.float64), *layer.get_weights()),
                               atol=1e-5, rtol=0)


def test_lstm_forget_bias_starts_at_one():
    layer = keras.layers.RNN(LSTMCell(U))
    layer(np.zeros((1, 2, D), np.float32))
    bias = layer.get_weights()[2]
    np.testing.assert_array_equal(bias, np.concatenate([np.zeros(U), np.ones(U), np.zeros(2 * U)]))


def test_sliding_window_is_the_causal_concatenation_of_the_last_k_inputs(x):
    k = 3
    got = np.asarray(SlidingWindow(k)(x))
    padded = np.concatenate([np.zeros((B, k - 1, D), np.float32), x], axis=1)
    want = np.stack([padded[:, t:t + k].reshape(B, k * D) for t in range(T)], axis=1)
    np.testing.assert_array_equal(got, want)


# -- the character model ---------------------------------------------------------------------------------------
TINY = {"window": dict(cell="window", units=12, embedding_dim=4, window=4),
        "srn": dict(cell="srn", units=12, embedding_dim=4),
        "lstm": dict(cell="lstm", units=12, embedding_dim=4, num_layers=2),
        "gru": dict(cell="gru", units=12, embedding_dim=4)}


def tiny(kind, seed=0):
    return recurrent.CharLM(seed=seed, **TINY[kind])


@pytest.fixture(scope="module")
def models():
    ms = {k: tiny(k) for k in TINY}
    rng = np.random.default_rng(1)
    for m in ms.values():   # weights large enough that a wrong state would show
        for w in m.weights:
            w.assign(rng.normal(0, 0.5, w.shape).astype(np.float32))
    return ms


@pytest.mark.parametrize("kind", list(TINY))
def test_stepwise_and_chunked_paths_equal_the_one_shot_call(models, kind):
    m = models[kind]
    ids = np.random.default_rng(2).integers(0, m.vocab_size, (2, 15)).astype(np.int32)
    full = np.asarray(m(ids))
    a, state = m._chunk(ids[:, :6], m.initial_state(2))
    b, _ = m._chunk(ids[:, 6:], state)
    np.testing.assert_allclose(np.concatenate([a, b], 1), full, atol=1e-5, rtol=0)
    state, steps = m.initial_state(2), []
    for t in range(15):
        logits, state = m.step(ids[:, t], state)
        steps.append(logits)
    np.testing.assert_allclose(np.stack(steps, 1), full, atol=1e-5, rtol=0)
    assert m.count_params() == recurrent.CharLM.parameter_count(m.get_config())


@pytest.mark.parametrize("kind", list(TINY))
def test_sequence_nats_is_step_nats_in_one_pass(models, kind):
    # the export metric's Keras side reads the stream in one pass; it must be the per-step quantity
    m = models[kind]
    ids = np.random.default_rng(3).integers(0, m.vocab_size, 40).astype(np.int32)
    one_pass, stepwise = recurrent.sequence_nats(m, ids), recurrent.step_nats(m.step, m, ids)
    assert one_pass == pytest.approx(stepwise, rel=1e-5, abs=1e-6)
    assert one_pass != pytest.approx(recurrent.sequence_nats(m, ids[::-1]), rel=1e-3)   # the order matters


@pytest.mark.parametrize("kind", ["window", "lstm"])
@pytest.mark.slow
def test_nats_per_char_equals_numpy_cross_entropy_of_the_call(models, kind):
    m = models[kind]
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 7   # < 512: one stream
    ids = np.array([VOCAB.index(c) for c in text])
    logits = np.asarray(m(ids[None, :-1]), np.float64)[0]
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    want = -logp[np.arange(len(ids) - 1), ids[1:]].mean()
    assert m.nats_per_char(text) == pytest.approx(want, rel=1e-5)
    metrics = m.test_metrics(text)
    assert metrics["bits_per_char"] == pytest.approx(metrics["nats_per_char"] / math.log(2))


@pytest.mark.slow
def test_nats_per_char_carries_the_state_across_chunks_and_streams(models):
    m = models["lstm"]
    rng = np.random.default_rng(3)
    text = "".join(rng.choice(list(VOCAB), 700))
    ids = np.array([VOCAB.index(c) for c in text])
    # 700 characters read as 2 streams of 350 (chunks of 256): each stream equals one call on its piece
    want = 0.0
    for piece_in, piece_out in ((ids[:350], ids[1:351]), (ids[350:699], ids[351:700])):
        logits = np.asarray(m(piece_in[None]), np.float64)[0]
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        want -= logp[np.arange(len(piece_in)), piece_out].sum()
    got = recurrent.stream_loss(m._chunk, m.initial_state, ids[:-1], ids[1:], streams=2, chunk_len=256)
    assert got == pytest.approx(want / 699, rel=1e-5)


@pytest.mark.slow
def test_generate_is_seeded_continues_the_prompt_and_greedy_is_the_argmax(models):
    m = models["gru"]
    a = m.generate("ROMEO:", 40, temperature=0.9, seed=7)
    assert a == m.generate("ROMEO:", 40, temperature=0.9, seed=7)
    assert a != m.generate("ROMEO:", 40, temperature=0.9, seed=8)
    assert a.startswith("ROMEO:") and len(a) == 46 and set(a) <= set(VOCAB)
    greedy = m.generate("ROMEO:", 20, greedy=True)
    # independently: argmax of the one-shot call on the text so far, one character at a time
    text = "ROMEO:"
    for _ in range(20):
        logits = np.asarray(m(np.array([[VOCAB.index(c) for c in text]])))[0, -1]
        text += VOCAB[int(np.argmax(logits))]
    assert greedy == text
    # a tiny temperature is the argmax too
    assert m.generate("ROMEO:", 20, temperature=1e-4, seed=0) == greedy


@pytest.mark.parametrize("call, message", [
    (lambda m: m.generate("ROMEO: ü", 10), r"1 character\(s\) outside the model's 65-character vocabulary: 'ü'"),
    (lambda m: m.generate("", 10), r"prompt must be a non-empty string"),
    (lambda m: m.generate(None, 10), r"prompt must be a non-empty string"),
    (lambda m: m.generate("A", 10, temperature=0), r"temperature"),
    (lambda m: m.generate("A", 10, temperature=-1.0), r"temperature"),
    (lambda m: m.generate("A", 10, temperature=float("nan")), r"temperature"),
    (lambda m: m.generate("A", recurrent.MAX_GENERATE + 1), r"length"),
    (lambda m: m.generate("A", 0), r"length"),
    (lambda m: m.generate("A", 2.5), r"length"),
    (lambda m: m.nats_per_char("A"), r"at least 2 characters"),
    (lambda m: m.nats_per_char("hello\tworld"), r"outside the model's.*'\\t'"),
    (lambda m: m.nats_per_char(b"bytes"), r"text must be a str"),
    (lambda m: recurrent.CharLM(cell="transformer"), r"cell"),
    (lambda m: recurrent.CharLM(vocabulary="aa"), r"distinct"),
    (lambda m: recurrent.CharLM(units=10 ** 6), r"units|parameters"),
], ids=["unknown-char", "empty-prompt", "none-prompt", "temp-0", "temp-neg", "temp-nan", "too-long", "zero-length",
        "float-length", "one-char-text", "tab", "bytes", "bad-cell", "dup-vocab", "huge"])
def test_bad_input_is_one_clear_error(models, call, message):
    with pytest.raises(ZooError, match=message):
        call(models["srn"])


def test_the_vocabulary_is_tinyshakespeares_characters():
    try:
        text = zoo.data.load("tinyshakespeare")
    except zoo.errors.DataUnavailable:
        pytest.skip("needs $ZOO_DATA_DIR/tinyshakespeare.txt")
    assert VOCAB == "".join(sorted(set(text))) == "".join(sorted(set(zoo.data.text_splits(text)["train"][0])))


@pytest.mark.slow
def test_save_and_load_round_trip_exactly(models, tmp_path):
    m = models["lstm"]
    registry.save_model(m, tmp_path / "m", {"name": "char_lstm_tiny"})
    back = zoo.load(tmp_path / "m")
    assert type(back) is recurrent.CharLM and back.get_config() == m.get_config()
    for a, b in zip(m.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert back.generate("KING:", 30, seed=1) == m.generate("KING:", 30, seed=1)


@pytest.mark.slow
def test_a_training_step_lowers_the_loss_on_repeated_text():
    m = tiny("lstm")
    text = "to be or not to be, that is the question. " * 40
    x, y = recurrent.sequences(m, text, 16)
    before = m.nats_per_char(text)
    # 120 updates: 3 epochs over 10 copies of the sequences (30 epochs of one copy cost 30 epochs' overhead)
    x, y = np.concatenate([x] * 10), np.concatenate([y] * 10)
    zoo.training.fit(m, (x, y), epochs=3, batch_size=32, learning_rate=1e-2, verbose=0)
    assert m.nats_per_char(text) < before - 1.0


# -- CLI, and kill-and-resume of a real training process ----------------------------------------------------------
@pytest.fixture(scope="module")
def text_data_dir(tmp_path_factory):
    """A ZOO_DATA_DIR whose tinyshakespeare.txt is 60,000 seeded characters of the vocabulary: fast to train on,
    and no dependency on the real file."""
    folder = tmp_path_factory.mktemp("textdata")
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list(VOCAB[13:]), rng.integers(1, 8))) for _ in range(300)]
    text = " ".join(rng.choice(words, 12_000)) + "\n"
    (folder / "tinyshakespeare.txt").write_text(text[:60_000], encoding="utf-8")
    return folder


def _train_command(out):
    return [sys.executable, "-m", "zoo", "train", "char_lstm_tiny", "--epochs", "2", "--seed", "3",
            "--verbose", "2", "--out", str(out)]


@pytest.mark.slow
def test_sigkill_mid_training_then_the_same_command_gives_bit_identical_weights(tmp_path, text_data_dir):
    env = zoo_env(ZOO_DATA_DIR=text_data_dir, ZOO_RUNS_DIR=tmp_path / "runs", ZOO_MODELS_DIR=tmp_path / "models")
    run = kill_then_resume(_train_command, tmp_path, env, first_epoch_line="Epoch 1/2", timeout=300)
    assert len(run.resumed.get_weights()) == 6
    assert run.cards[1]["metrics"] == run.cards[0]["metrics"]

    # the CLI's generate on the trained folder: seeded, and its bad input is one line, exit 1
    code, out, err = run_zoo_here("generate", tmp_path / "resumed", "--prompt", "ROMEO:", "--length", "50",
                             "--temperature", "0.8", "--seed", "1", ZOO_DATA_DIR=text_data_dir)
    assert code == 0, err
    model = zoo.load(tmp_path / "resumed")
    assert out.rstrip("\n") == model.generate("ROMEO:", 50, temperature=0.8, seed=1)
    # one bad prompt through the CLI (the empty prompt, temperature and length bounds are the same checks,
    # tested in-process above; each CLI row costs a TensorFlow start-up)
    code, out, err = run_zoo_here("generate", tmp_path / "resumed", "--prompt", "ROMEO: ü", ZOO_DATA_DIR=text_data_dir)
    lines = user_lines(err)
    assert code == 1 and len(lines) == 1 and "outside the model's" in lines[0], err


# -- the shipped LSTM's LiteRT step ------------------------------------------------------------------------------
SHIPPED = registry.saved_models_dir() / "char_lstm_shakespeare"


@pytest.mark.skipif(not (SHIPPED / "model.keras").is_file(), reason="char_lstm_shakespeare is not shipped")
@pytest.mark.slow
def test_litert_float32_step_generates_the_same_500_characters_greedily(tmp_path):
    from export import litert
    m = zoo.load("char_lstm_shakespeare")
    part = recurrent.export_parts(m, None)["step"]
    path = litert.convert(part.model, tmp_path / "step.tflite", quantize="none")
    runner = litert.LiteRTRunner(path, [t.name for t in part.model.inputs], list(part.model.output),
                                 verify_manifest=False)
    prompt = m.encode("ROMEO:")
    keras_ids = recurrent.decode_loop(m.step, m.prime(prompt), int(prompt[-1]), 500, 1.0, None, greedy=True)
    state = m.prime(prompt)
    lite_ids = recurrent.decode_loop(recurrent.runner_step(runner.run_once, m), state, int(prompt[-1]), 500, 1.0,
                                     None, greedy=True)
    assert m.decode(lite_ids) == m.decode(keras_ids)
    assert len(set(keras_ids.tolist())) > 5    # a real text, not one character repeated


INT8 = SHIPPED / "exports" / "step_int8.tflite"


@pytest.mark.skipif(not INT8.is_file(), reason="the int8 step export is not shipped")
@pytest.mark.slow
def test_shipped_int8_step_nats_per_char_is_within_2_percent_of_keras():
    from export import litert
    m = zoo.load("char_lstm_shakespeare")
    runner = litert.LiteRTRunner(INT8)
    ids = m.encode(_validation_slice(m))
    exported = recurrent.step_nats(recurrent.runner_step(runner.run_once, m), m, ids)
    keras_value = recurrent.sequence_nats(m, ids)
    assert abs(exported - keras_value) / keras_value <= 0.02
    assert keras_value < 2.5    # a trained model: the check is not on noise


def _validation_slice(m, n=2000):
    try:
        return zoo.data.splits("tinyshakespeare")["val"][0][:n]
    except zoo.errors.DataUnavailable:
        pytest.skip("needs $ZOO_DATA_DIR/tinyshakespeare.txt")


SRN = registry.saved_models_dir() / "char_srn_shakespeare" / "model.keras"


@pytest.mark.skipif(not SRN.is_file(), reason="char_srn_shakespeare is not shipped")
@pytest.mark.slow
def test_a_shipped_model_is_plain_keras_load_call_evaluate():
    plain = keras.saving.load_model(SRN)
    model = zoo.load("char_srn_shakespeare")
    assert type(plain) is type(model) and plain.get_config() == model.get_config()
    for a, b in zip(plain.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    text = "KING RICHARD III:\nNow is the winter of our discontent\nMade glorious summer by this sun of York;\n" * 3
    x, y = recurrent.sequences(model, text, 64)
    np.testing.assert_array_equal(np.asarray(plain(x)), np.asarray(model(x)))
    # Keras' evaluate is the mean cross-entropy over the windows: nats/char of each window from a fresh state
    want = np.mean([model.nats_per_char(model.decode(np.append(xi, yi[-1]))) for xi, yi in zip(x, y)])
    assert plain.evaluate(x, y, verbose=0) == pytest.approx(want, rel=1e-5)
