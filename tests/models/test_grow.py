"""``python3 -m lib.models.grow``: a generator with more residual blocks whose output equals the
source's, every source tensor kept, the new blocks trainable, and bad input one error line with
nothing overwritten."""
import os

import numpy as np
import pytest

from cli_helpers import assert_one_error, run_cli
from inference_helpers import save_random_model


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return save_random_model(str(tmp_path_factory.mktemp("grow") / "two" / "model"),
                             num_resblock=2, seed=3)


def tensors(prefix):
    import tensorflow as tf
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def generator_output(prefix, blocks, gen_input):
    from lib.models.checkpoint import load_official
    from lib.models.networks import Generator
    generator = Generator(blocks)
    assert load_official(generator.official_variables(), prefix) == []
    return generator(gen_input).numpy()


def test_the_grown_generator_gives_the_sources_output(source, tmp_path):
    import tensorflow as tf
    from lib.models.grow import grow_generator
    prefix, blocks = grow_generator(source, 5, str(tmp_path / "five" / "model"))
    assert blocks == 2
    old, new = tensors(source), tensors(prefix)
    for name, value in old.items():                     # every source tensor, unchanged
        np.testing.assert_array_equal(new[name], value, err_msg=name)
    added = sorted(set(new) - set(old))
    assert len(added) == 3 * 4                          # blocks 3..5, two convs, weights+biases
    for i in (3, 4, 5):
        conv_1 = new[f"generator/generator_unit/resblock_{i}/conv_1/Conv/weights"]
        conv_2 = new[f"generator/generator_unit/resblock_{i}/conv_2/Conv/weights"]
        assert conv_1.shape == conv_2.shape == (3, 3, 64, 64)
        assert np.abs(conv_1).max() > 0                 # initialised: gradients reach conv_2
        assert not conv_2.any()
        assert not new[f"generator/generator_unit/resblock_{i}/conv_2/Conv/biases"].any()
    gen_input = tf.random.stateless_uniform((1, 8, 8, 51), seed=(1, 2))
    np.testing.assert_allclose(generator_output(prefix, 5, gen_input),
                               generator_output(source, 2, gen_input), rtol=0, atol=1e-6)


def test_a_discriminator_in_the_source_is_kept_and_a_partial_model_refused(tmp_path):
    from lib.models.checkpoint import save_official
    from lib.models.discriminator import Discriminator
    from lib.models.grow import grow_generator
    from lib.models.networks import FNet, Generator
    teco = {**Generator(2, seed=5).official_variables(), **FNet(seed=5).official_variables(),
            **Discriminator().official_variables()}
    start = save_official(teco, str(tmp_path / "teco" / "model"), write_state_file=False)
    grown = tensors(grow_generator(start, 3, str(tmp_path / "grown" / "model"))[0])
    d_names = [name for name in teco if name.startswith("tdiscriminator/")]
    assert d_names
    for name in d_names:
        np.testing.assert_array_equal(grown[name], teco[name].numpy(), err_msg=name)
    partial = {name: var for name, var in teco.items() if not name.startswith("fnet/")}
    save_official(partial, str(tmp_path / "partial" / "model"), write_state_file=False)
    from lib.errors import UserError
    with pytest.raises(UserError, match="lacks .* tensor"):
        grow_generator(str(tmp_path / "partial" / "model"), 3, str(tmp_path / "p3" / "model"))
    assert not os.path.exists(str(tmp_path / "p3" / "model.index"))


def test_the_new_blocks_learn_from_the_first_step(source, tmp_path):
    """Zero conv_2 makes the block an identity but not a dead end: its conv_2 gets a gradient."""
    import tensorflow as tf
    from lib.models.checkpoint import load_official
    from lib.models.grow import grow_generator
    from lib.models.networks import Generator
    prefix, _ = grow_generator(source, 3, str(tmp_path / "three" / "model"))
    generator = Generator(3)
    load_official(generator.official_variables(), prefix)
    conv_1, conv_2 = generator.resblocks[2]
    gen_input = tf.random.stateless_uniform((1, 8, 8, 51), seed=(3, 4))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(generator(gen_input)))
    grad_conv_2, grad_conv_1 = tape.gradient(loss, [conv_2.kernel, conv_1.kernel])
    assert np.abs(grad_conv_2.numpy()).max() > 0
    assert not grad_conv_1.numpy().any()               # until conv_2 moves off zero


def test_the_cli_and_its_errors(source, tmp_path):
    def grow(checkpoint, blocks, out):
        return run_cli(["-m", "lib.models.grow", "--checkpoint", checkpoint,
                        "--num_resblock", str(blocks), "--output", out])
    out = str(tmp_path / "cli" / "model")
    status, stdout, stderr = grow(source, 4, out)
    assert status == 0, stderr[-2000:]
    assert "from 2 to 4 residual blocks" in stdout and "--num_resblock 4" in stdout
    before = open(out + ".index", "rb").read()
    assert_one_error(*grow(source, 6, out), "exists")   # never overwrites
    assert open(out + ".index", "rb").read() == before
    other = str(tmp_path / "other" / "model")
    assert_one_error(*grow(source, 2, other), "already has 2", "more than 2")
    assert_one_error(*grow(out, 3, other), "already has 4")
    assert_one_error(*grow(source, 0, other), "--num_resblock 0")
    assert_one_error(*grow(str(tmp_path / "absent"), 4, other), "not found")
    (tmp_path / "a_file").write_text("not a folder")
    assert_one_error(*grow(source, 4, str(tmp_path / "a_file" / "model")), "--output")
    assert not os.path.exists(other + ".index")
