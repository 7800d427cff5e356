"""The technique comparison (the `compare` view): its vocabulary, its axes, which
units it shows, one optimization of many runs and the driver that stores them."""
