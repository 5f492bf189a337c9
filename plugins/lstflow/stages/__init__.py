"""Stage planners: production config entries → work items (command lines, resources, outputs).

One module per lstmcpipe stage; ``registry`` knows their order and dependencies. Planners never
touch Slurm: they only need a ``FileLister`` for the stages that batch input files.
"""
