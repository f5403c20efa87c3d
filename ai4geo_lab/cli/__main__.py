"""``python -m ai4geo_lab.cli``: the ``ai4geo`` command."""

from ai4geo_lab.cli import entry

entry()
