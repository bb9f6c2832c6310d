// The AlignTemplates module: a Jinja interpreter for Hugging Face chat templates. See Package.swift for its place among the layers.
