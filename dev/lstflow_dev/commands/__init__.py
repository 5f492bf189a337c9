"""Sub-commands of the development CLI, one module each (see ``lstflow_dev.cli``)."""
