# atlas: `make atlas` builds the default atlas into site/, `make test` runs the tests.
# Both install what is missing first (a virtual environment in .venv/).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
WEIGHTS := atlas/models/weights/colored_digits.pt
ARGS ?=

.PHONY: install atlas test test-slow lint docs render weights trained-weights photos browser bench clean help

help:
	@echo "make atlas    install if needed, then build the default atlas into site/"
	@echo "make test     install if needed, then run the test suite"
	@echo "make lint     ruff and mypy over atlas/ (style, imports, likely bugs, types)"
	@echo "make docs     write docs/settings.md and docs/api-reference.md from the code"
	@echo "make render   re-render site/ from stored results (no optimization)"
	@echo "make bench    time atlas against torch-lucent (InceptionV1 mixed4a, CPU)"
	@echo "make weights  retrain the embedded colored-digits model"
	@echo "make trained-weights  fetch MobileNetV2's ImageNet checkpoint for benches (.cache/trained)"
	@echo "make photos   crops of the photographs scikit-image ships, for benches (.cache/photos*)"
	@echo "make browser  install headless Chromium for the page tests (Debian, root)"

install: $(INSTALLED)

$(INSTALLED): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,ray,timm]'
	touch $(INSTALLED)

# The weights ship in the repo; this rule trains them only when they are missing.
$(WEIGHTS): | $(INSTALLED)
	$(BIN)/python scripts/train_default_model.py

weights: $(INSTALLED)
	$(BIN)/python scripts/train_default_model.py

# A trained ImageNet network for benches and slow tests, never for a build (see the script).
trained-weights: $(INSTALLED)
	$(BIN)/python scripts/fetch_trained_weights.py .cache/trained

# Real photographs for benches on the trained network: 1,000 crops by photograph, and
# 1,000 with ImageNet class folders where a photograph shows one (recognition).
photos: $(INSTALLED)
	$(BIN)/python -c "import skimage" 2>/dev/null || $(BIN)/pip install -q scikit-image
	$(BIN)/python scripts/make_photo_folder.py .cache/photos 1000
	$(BIN)/python scripts/make_photo_folder.py .cache/photos-imagenet 1000 --imagenet-labels

atlas: $(INSTALLED) $(WEIGHTS)
	$(BIN)/atlas build --concepts conv3=sae:16 $(ARGS)

render: $(INSTALLED)
	$(BIN)/atlas render $(ARGS)

test: $(INSTALLED) $(WEIGHTS)
	$(BIN)/python -m pytest -q

lint: $(INSTALLED)
	$(BIN)/ruff check atlas
	$(BIN)/mypy

# Pages made from the code: the settings (atlas/config.py) and the Python API's reference;
# tests/test_settings.py and tests/test_api.py check they are current.
docs: $(INSTALLED)
	$(BIN)/python -m atlas.settings_table > docs/settings.md
	$(BIN)/python -m atlas.api_reference > docs/api-reference.md

test-slow: $(INSTALLED) $(WEIGHTS) trained-weights
	$(BIN)/python -m pytest -q --run-slow

bench: $(INSTALLED)
	$(BIN)/atlas bench $(ARGS)

browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

clean:
	rm -rf site
