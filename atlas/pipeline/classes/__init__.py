"""Class pages: for each class of the model's class output, the channels and concepts of
the last chosen layer that contribute most to its logit over the images of that class."""
