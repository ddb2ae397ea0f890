"""What stages that stand for one layer's weights share."""


class LayerWeights:
    """A stage whose weights are those of one layer, ``self.layer``: its params, grads and zero_grads
    are the layer's own, so the model's flat dicts and the optimizer see the layer's arrays."""

    layer = None

    @property
    def params(self):
        """The layer's weights, {key: array}."""
        return self.layer.params

    @property
    def grads(self):
        """The layer's gradients, same keys and shapes as params."""
        return self.layer.grads

    def zero_grads(self):
        """Set the layer's gradients to 0 (backward adds into them)."""
        self.layer.zero_grads()
