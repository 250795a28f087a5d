# mmacs — set-up, tests and demo. Every target creates .venv and installs
# what it needs on first use (a second call skips what is done).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEPS := $(VENV)/.mmacs-deps
DEPLOY := $(VENV)/.mmacs-deploy

.PHONY: install deploy test demo lint clean

install: $(DEPS)

$(DEPS): setup.cfg Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade 'pip>=23'
	# 1. torch first (the CPU wheel; a bare `torch` would pull a CUDA build)
	$(BIN)/pip install torch==2.13.0
	# 2. build tools: mmcv's setup.py needs pkg_resources (setuptools < 82)
	$(BIN)/pip install 'setuptools>=77.0.3,<82' wheel ninja
	# 3. mmcv with its compiled ops, built against the torch installed above
	MMCV_WITH_OPS=1 MAX_JOBS=2 $(BIN)/pip install --no-build-isolation mmcv==2.1.0
	@$(BIN)/python -c 'import mmcv._ext' || { \
	  echo 'ERROR: mmcv was installed without its compiled ops (mmcv._ext).'; \
	  echo 'Reinstall it with torch present in the build environment:'; \
	  echo '  $(BIN)/pip uninstall -y mmcv && MMCV_WITH_OPS=1 $(BIN)/pip install --no-cache-dir --no-build-isolation mmcv==2.1.0'; \
	  exit 1; }
	# 4. the rest, then mmacs itself
	$(BIN)/pip install mmengine==0.10.7 mmdet==3.3.0 pycocotools matplotlib pytest
	$(BIN)/pip install --no-build-isolation --no-deps -e .
	touch $@

# The `deploy` extra of setup.cfg, same pins (ONNX export; its tests skip
# without it).
deploy: $(DEPLOY)

$(DEPLOY): $(DEPS)
	$(BIN)/pip install onnx==1.23.2 onnxruntime==1.32.0
	touch $@

test: $(DEPS) $(DEPLOY)
	$(BIN)/python -m pytest tests -q

demo: $(DEPS)
	$(BIN)/python tools/demo.py --work-dir work_dirs/demo

lint: $(DEPS)
	$(BIN)/pip install -q flake8 isort==5.13.2 yapf
	$(BIN)/python -m flake8 mmacs tools tests
	$(BIN)/python -m isort --check-only --diff mmacs tools tests

clean:
	rm -rf work_dirs .pytest_cache
