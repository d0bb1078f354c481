"""The growth pipeline: the cluster's stage gates from idea or running clinical project to a
purchase, with the evidence that carries an opportunity into procurement."""
