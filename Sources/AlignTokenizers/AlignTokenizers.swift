// The AlignTokenizers module. See Package.swift for its place among the layers.
