# The two commands of the README. Both set up what they need first.
.PHONY: setup demo test bench screenshots

setup:
	./scripts/setup

# The app on the built-in lab (root): brings the lab up, then opens the TUI.
# `make demo LAB=name` uses (or builds) the lab of that name; the lab stays up
# after the TUI quits: `.venv/bin/ovsvlan-tui lab down --lab-name name` removes it.
LAB ?= lab
demo: setup
	-.venv/bin/ovsvlan-tui --lab --lab-name '$(LAB)'
	@echo "The lab '$(LAB)' is still up: .venv/bin/ovsvlan-tui lab down --lab-name '$(LAB)' removes it."

# Unit, integration (real OVS lab; root) and UI tests.
test: setup
	.venv/bin/python -m pytest -q -p no:cacheprovider tests

# ovs-flowviz (python-ovs's viewer) is measured beside us: installed for the bench only.
bench: setup
	.venv/bin/pip install -q 'ovs[flowviz]'
	.venv/bin/python -m bench.run

screenshots: setup
	.venv/bin/python -m tui.screenshots
