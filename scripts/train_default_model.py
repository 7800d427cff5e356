"""Trains the embedded colored-digits model and writes its weights and metrics.

Run by `make weights` (and by `make atlas` when the weights are missing).
"""

from atlas.models.train import train_default_model

if __name__ == "__main__":
    result = train_default_model()
    accuracy = result["accuracy"]
    print(
        f"trained in {result['train_seconds']} s: biased test accuracy "
        f"{accuracy['biased_test']:.1%}, unbiased test accuracy {accuracy['unbiased_test']:.1%}"
    )
