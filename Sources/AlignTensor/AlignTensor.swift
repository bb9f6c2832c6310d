// Tensors with reverse-mode autodiff.
