"""What a build does with its dataset: the streaming pass, the extremes it keeps,
the examples cut from it, and the views optimized from dataset images (accent,
caricature)."""
