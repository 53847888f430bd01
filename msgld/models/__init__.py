"""Pure nn.Modules, each built from a plain config dict by a factory (`build_*`)."""
