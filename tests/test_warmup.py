"""warm_up compiles a model's kernels on a throw-away copy: the model itself does not change."""
import numpy as np
import pytest

from npembed import Sequential, warmup
from npembed.layers import Dense, Dropout, Embedding, Flatten, GlobalAveragePooling1D


@pytest.mark.parametrize("layers, dtype", [
    ([Embedding(50, 4, mask_zero=True), GlobalAveragePooling1D(), Dense(3, activation="relu"),
      Dense(1, activation="sigmoid")], "float32"),
    ([Embedding(50, 4, input_length=6), Flatten(), Dropout(0.5, seed=1), Dense(1, activation="sigmoid")], "float64"),
])
def test_warm_up_leaves_the_model_untouched(layers, dtype):
    model = Sequential(layers, seed=3, dtype=dtype)
    model.build((None, 6))
    before = model.get_weights()
    seconds = warmup.warm_up(model)
    assert seconds > 0
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer is None and not hasattr(model, "history")
    model.compile()
    model.fit(np.ones((4, 6), int), [0, 1, 0, 1], epochs=1, verbose=0)       # and it still trains


def test_warm_up_refuses_what_it_cannot_copy():
    from npembed.layers import Layer

    class Custom(Layer):
        def forward(self, x, mask=None, training=False):
            return x

    with pytest.raises(TypeError, match="starts with an Embedding"):
        warmup.warm_up(Sequential([Dense(1)]))
    with pytest.raises(TypeError, match="starts with an Embedding"):
        warmup.warm_up("model")
    with pytest.raises(TypeError, match="npembed's own layers only"):
        warmup.warm_up(Sequential([Embedding(5, 2), Custom(), GlobalAveragePooling1D(), Dense(1)]))


@pytest.mark.parametrize("vocab, id_type", [(65536, "uint16"), (65537, "int32")])
def test_warm_up_compiles_the_id_type_the_data_will_have(vocab, id_type):
    """Packed ids are uint16 up to 65,535 and int32 above (bags.Bags.from_padded): the copy's
    vocabulary is the real one's side of that line, so the kernels it compiles are those training uses."""
    import numba

    from npembed import kernels
    from npembed.kernels import bags
    if kernels.get_kernels() != "numba":
        pytest.skip("the NumPy references compile nothing")
    model = Sequential([Embedding(vocab, 4), GlobalAveragePooling1D(), Dense(1, activation="sigmoid")], seed=0)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    warmup.warm_up(model)
    compiled = {signature[0].dtype for signature in bags._pooled_lookup_numba.signatures}
    assert getattr(numba, id_type) in compiled
