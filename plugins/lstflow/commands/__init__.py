"""Sub-commands of the ``lstflow`` CLI, one module each (see ``lstflow.cli``)."""
