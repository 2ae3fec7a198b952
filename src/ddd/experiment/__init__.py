"""What a study is made of, as plain data (no heavy imports; planning reads all of it).

- :mod:`ddd.experiment.makers`: :class:`~ddd.experiment.makers.DecisionMaker`, the one type of a
  decision maker from planning to the last figure;
- :mod:`ddd.experiment.conditions`: the 13 conditions, their runs and decision makers;
- :mod:`ddd.experiment.recipes`: training recipes, the paper's families, job resources;
- :mod:`ddd.experiment.paper`: the paper's published numbers per preset.
"""
