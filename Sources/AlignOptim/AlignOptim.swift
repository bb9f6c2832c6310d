// Optimisers over AlignTensor parameters.
