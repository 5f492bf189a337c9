"""What both products share: the ``[lstflow]`` options of airflow.cfg and the models assets."""
