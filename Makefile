# Quick start: `make demo` (set up and run the showcase) and `make test` (set up and pass the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench bench-parallel bench-repl bench-polybench bench-opencl setup setup-dev clean ale-demo golden vscode-extension fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# compat-mode editable installs put the source folder on sys.path with a .pth line; the default
# mode installs an import hook that costs ~15 ms on every `noodle` start.  compileall writes the
# .pyc files even where PYTHONDONTWRITEBYTECODE is set, for the same reason.
EDITABLE := --config-settings editable_mode=compat

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e . $(EDITABLE)
	$(BIN)/python -m compileall -q noodle > /dev/null

setup-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]' $(EDITABLE)
	$(BIN)/python -m compileall -q noodle > /dev/null

demo: setup
	cd examples && ../$(BIN)/noodle run showcase.nd
	@echo; echo "== plain loops, recognised: noodle run intents.nd, then noodlec intents.nd --explain =="
	cd examples && ../$(BIN)/noodle run intents.nd && ../$(BIN)/noodlec intents.nd --explain
	@echo; echo "== PolyBench's gemm as PolyBench writes it (i-k-j, scaled C): found as one BLAS call =="
	$(BIN)/noodlec bench/polybench/kernels/gemm.nd --explain | grep -i "contraction\|gemm"
	@echo; echo "== more of PolyBench, found by analysis: symm as dsymm, doitgen as one batched dgemm, correlation's column sums interchanged, cholesky as LAPACK's dpotrf =="
	$(BIN)/noodlec bench/polybench/kernels/symm.nd --explain | grep -i "dsymm"
	$(BIN)/noodlec bench/polybench/kernels/doitgen.nd --explain | grep -i "batched"
	$(BIN)/noodlec bench/polybench/kernels/correlation.nd --explain | grep -i "interchanged" | head -1
	$(BIN)/noodlec bench/polybench/kernels/cholesky.nd --explain | grep -i "cholesky factorisation" | cut -c1-150
	@echo; echo "== limits hold in native code: a VM with max_steps runs spin() natively and stops it at the limit =="
	$(BIN)/python examples/embed/native_limits.py
	@echo; echo "== a time limit alone holds for one long operation: estimated before it starts, or run in pieces =="
	$(BIN)/python examples/embed/time_limits.py
	@echo; echo "== library evolution: examples/ale run 3 times, then noodle ale evolve: plain-Python functions translated to native Noodle, numpy.dot served by machine code =="
	rm -rf build/demo-ale && mkdir -p build && cp -r examples/ale build/demo-ale && rm -rf build/demo-ale/.noodle build/demo-ale/__noodlecache__ build/demo-ale/__pycache__
	cd build/demo-ale && for i in 1 2 3; do ../../$(BIN)/noodle run --ale-capture main.nd > /dev/null || exit 1; done \
		&& ../../$(BIN)/noodle ale evolve --no-canary --min-seconds 0.01 > /dev/null && COLUMNS=120 ../../$(BIN)/noodle ale candidates && ../../$(BIN)/noodle run main.nd
	@echo; echo "== the REPL keeps its session: a closure from one entry updates a var of another =="
	printf 'var count = 0\nlet inc = () => { count += 1 }\ninc()\ninc()\ncount\n' | $(BIN)/noodle repl
	@echo; echo "== a command-line tool: noodle examples/wordfreq.nd -n 5 README.md =="
	$(BIN)/noodle examples/wordfreq.nd -n 5 README.md
	@echo; echo "== signed modules: noodle keygen, noodlec --sign, noodle run --require-signed =="
	rm -rf build/demo && mkdir -p build/demo && cp examples/showcase.nd build/demo/
	cd build/demo && ../../$(BIN)/noodle keygen demo && ../../$(BIN)/noodlec showcase.nd --sign demo.key -o showcase.nbc \
		&& ../../$(BIN)/noodle run --require-signed --trust demo.pub showcase.nbc > /dev/null && echo "signed module ran"
	@echo; echo "== the formatter: noodle fmt --check (every example is in canonical layout) =="
	$(BIN)/noodle fmt --check examples/showcase.nd examples/intents.nd examples/wordfreq.nd && echo "formatted"

test: setup-dev
	$(BIN)/python -m pytest -n 2 -q

# more Hypothesis examples (ten times each test's own number), random: for hunting, not for CI
test-deep: setup-dev
	HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest -n 2 -q

# the long runs kept out of `make test` (@pytest.mark.slow)
test-slow: setup-dev
	$(BIN)/python -m pytest -q -m slow

# `make test` RUNS times in a row with HOGS processes spinning beside it (docs/testing.md)
RUNS ?= 10
HOGS ?= 2
test-loaded: setup-dev
	$(BIN)/python scripts/test_loaded.py $(RUNS) $(HOGS)

# mutation testing of the critical modules (not part of `make test`; minutes to hours):
# `make mutate MODULE=noodle/vm/convert.py` runs one, `FUNCS='noodle.vm.translate.x_checked*'` narrows it
mutate: setup-dev
	$(BIN)/pip install --quiet -e '.[dev,mutate]' $(EDITABLE)
	$(BIN)/python scripts/mutate.py $(MODULE) $(FUNCS)

mutate-scores:
	$(BIN)/python scripts/mutate.py --scores

bench: setup-dev
	$(BIN)/python bench/run.py

# parallel.map: serial VM, local pool, Dask LocalCluster and Dask's own overhead side by side
# (on a shared machine, give it priority: see docs/performance.md, "parallel.map", for how it was measured)
bench-parallel: setup-dev
	$(BIN)/python bench/parallel.py

# what one REPL entry costs as the session grows (1, 50, 150, 300 definitions)
bench-repl: setup-dev
	$(BIN)/python bench/repl_entries.py

# each intent on OpenCL (PoCL here; a GPU where there is one), LLVM, NumPy and Numba; on a GPU
# machine `bash bench/device.sh` does the setup and this in one go
bench-opencl: setup-dev
	$(BIN)/pip install --quiet -e '.[dev,bench]' $(EDITABLE)
	$(BIN)/python bench/opencl.py

# library evolution on examples/ale: record 3 runs, evolve (canary on every call), a canary run,
# evolve again (promotion), the evolved run, and the report (examples/ale/report.html)
ale-demo: setup
	cd examples/ale && rm -rf .noodle && for i in 1 2 3; do ../../$(BIN)/noodle run --ale-capture main.nd > /dev/null; done
	cd examples/ale && ../../$(BIN)/noodle ale status && ../../$(BIN)/noodle ale evolve --canary-share 1.0
	cd examples/ale && ../../$(BIN)/noodle run main.nd && ../../$(BIN)/noodle ale evolve
	cd examples/ale && ../../$(BIN)/noodle run main.nd && ../../$(BIN)/noodle ale report --html report.html

# rewrite tests/golden/ir/*.ir (the IR after each pass) after an intended change; review the diff
golden: setup-dev
	NOODLE_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_golden_ir.py

# PolyBench 4.2 in Noodle against NumPy and Numba (the `bench` extra); SIZE=MINI|SMALL|MEDIUM|LARGE
SIZE ?= MEDIUM
bench-polybench: setup-dev
	$(BIN)/pip install --quiet -e '.[dev,bench]' $(EDITABLE)
	$(BIN)/python bench/polybench/run.py --size $(SIZE) --explain

clean:
	rm -rf $(VENV) build *.egg-info .mutmut
	find . -name __noodlecache__ -type d -prune -exec rm -rf {} +

# the VS Code extension (editors/vscode): npm installs its client library and vsce, which packages it
vscode-extension:
	cd editors/vscode && npm install --no-audit --no-fund && npm run package

# long fuzz campaigns (compiler sources, damaged modules, VM vs native); figures in docs/reliability.md
fuzz: setup-dev
	$(BIN)/python -m noodle.tools.fuzz --count 1000000 --seconds $${FUZZ_SECONDS:-600}
	$(BIN)/python -m pytest -q -m slow tests/test_fuzz.py
