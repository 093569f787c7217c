"""The notebook's lesson itself: the MSE and Linear Functions, the descent, its optimizers and
its theory.  Imports torch and numpy, and of the engine only :mod:`engine.config`."""
