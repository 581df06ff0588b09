"""One module per model file format; :mod:`miwd_widget.weights.registry` lists them."""
